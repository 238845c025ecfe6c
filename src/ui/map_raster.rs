//! The embedding map's points painted into one image of the plot's own pixels. A plot marker
//! per point is a shape per point, built and tessellated every frame: at 20k points that was
//! the largest part of a frame, at 100k several times the frame budget. Painted here, the map
//! costs one textured rectangle a frame, and the image is painted again only when what it
//! shows changes (points, colours, selection, the view, the plot's size): see [`Key`].

use std::hash::{Hash, Hasher};

use egui::{Color32, ColorImage};

/// The part of plot space an image covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub min: [f64; 2],
    pub max: [f64; 2],
}

impl Area {
    /// The smallest area holding `points` (None when there are none or they are not finite).
    pub fn around(points: impl IntoIterator<Item = [f64; 2]>) -> Option<Self> {
        let mut a = Area {
            min: [f64::INFINITY; 2],
            max: [f64::NEG_INFINITY; 2],
        };
        for p in points {
            if p[0].is_finite() && p[1].is_finite() {
                for (k, v) in p.into_iter().enumerate() {
                    a.min[k] = a.min[k].min(v);
                    a.max[k] = a.max[k].max(v);
                }
            }
        }
        (a.min[0] <= a.max[0]).then_some(a)
    }

    /// Grown by `fraction` of its size on every side (at least a tiny amount, so that a
    /// single point or a line of points has an area).
    pub fn padded(self, fraction: f64) -> Self {
        let pad = |k: usize| ((self.max[k] - self.min[k]) * fraction).max(1e-6);
        let (px, py) = (pad(0), pad(1));
        Area {
            min: [self.min[0] - px, self.min[1] - py],
            max: [self.max[0] + px, self.max[1] + py],
        }
    }

    /// The overlap of two areas, if they overlap.
    pub fn intersect(self, o: Area) -> Option<Area> {
        let a = Area {
            min: [self.min[0].max(o.min[0]), self.min[1].max(o.min[1])],
            max: [self.max[0].min(o.max[0]), self.max[1].min(o.max[1])],
        };
        (a.min[0] < a.max[0] && a.min[1] < a.max[1]).then_some(a)
    }

    pub fn width(&self) -> f64 {
        self.max[0] - self.min[0]
    }

    pub fn height(&self) -> f64 {
        self.max[1] - self.min[1]
    }
}

/// How a point is drawn: a filled disc or a ring one pixel wide, of the given radius in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Marker {
    Disc(f32),
    Ring(f32),
}

/// Points of one colour and marker. Later layers paint over earlier ones.
pub struct Layer<'a> {
    pub colour: Color32,
    pub marker: Marker,
    pub points: &'a [[f64; 2]],
}

/// A marker's pixels: offsets from its centre pixel. A pixel belongs to the marker when the
/// marker covers at least half of it (no anti-aliasing: a blend per pixel made a 100k-point
/// map cost 17 ms to paint, plain writes about a tenth of that).
fn stamp(m: Marker) -> Vec<(i64, i64)> {
    let (r, ring) = match m {
        Marker::Disc(r) => (r.max(0.5), false),
        Marker::Ring(r) => (r.max(1.0), true),
    };
    let reach = (r + 1.0).ceil() as i64;
    let mut out = Vec::new();
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let d = ((dx * dx + dy * dy) as f32).sqrt();
            let cover = if ring {
                1.0 - (d - r).abs()
            } else {
                r + 0.5 - d
            };
            if cover >= 0.5 {
                out.push((dx, dy));
            }
        }
    }
    out
}

/// `src` (premultiplied) over `dst`.
fn over(dst: Color32, src: Color32) -> Color32 {
    let a = 255 - src.a() as u32;
    let f = |s: u8, d: u8| (s as u32 + (d as u32 * a + 127) / 255).min(255) as u8;
    Color32::from_rgba_premultiplied(
        f(src.r(), dst.r()),
        f(src.g(), dst.g()),
        f(src.b(), dst.b()),
        f(src.a(), dst.a()),
    )
}

/// The largest integer not above `v` (saturating far outside the i64 range).
fn floor(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t - 1
    } else {
        t
    }
}

/// The pixel whose centre is nearest to plot position `p` in a `w` x `h` image of `area`
/// (row 0 at the top, where y is largest).
pub fn pixel_of(p: [f64; 2], area: Area, w: usize, h: usize) -> (i64, i64) {
    let x = (p[0] - area.min[0]) / area.width() * w as f64;
    let y = (area.max[1] - p[1]) / area.height() * h as f64;
    (floor(x), floor(y))
}

/// `layers` painted into a transparent `w` x `h` image of `area`. Points outside the area are
/// left out (a marker that reaches into it from outside is drawn in part).
pub fn paint(layers: &[Layer<'_>], area: Area, w: usize, h: usize) -> ColorImage {
    let mut px = vec![Color32::TRANSPARENT; w * h];
    if w > 0 && h > 0 && area.width() > 0.0 && area.height() > 0.0 {
        for layer in layers {
            let st = stamp(layer.marker);
            let reach = st.iter().map(|s| s.0.abs()).max().unwrap_or(0);
            // Offsets into the pixel vector, for markers wholly inside the image.
            let linear: Vec<isize> = st
                .iter()
                .map(|&(dx, dy)| (dy * w as i64 + dx) as isize)
                .collect();
            let c = layer.colour;
            let put = |dst: &mut Color32| {
                *dst = if c.a() == 255 { c } else { over(*dst, c) };
            };
            let (wi, hi) = (w as i64, h as i64);
            let (sx, sy) = (w as f64 / area.width(), h as f64 / area.height());
            for &p in layer.points {
                if !(p[0].is_finite() && p[1].is_finite()) {
                    continue;
                }
                // As `pixel_of`, with the scales computed once (and a floor that is not a
                // libm call).
                let cx = floor((p[0] - area.min[0]) * sx);
                let cy = floor((area.max[1] - p[1]) * sy);
                if cx < -reach || cy < -reach || cx >= wi + reach || cy >= hi + reach {
                    continue;
                }
                if cx >= reach && cy >= reach && cx < wi - reach && cy < hi - reach {
                    let base = (cy * wi + cx) as isize;
                    if c.a() == 255 {
                        for &o in &linear {
                            px[(base + o) as usize] = c;
                        }
                    } else {
                        for &o in &linear {
                            put(&mut px[(base + o) as usize]);
                        }
                    }
                } else {
                    for &(dx, dy) in &st {
                        let (x, y) = (cx + dx, cy + dy);
                        if x >= 0 && y >= 0 && x < wi && y < hi {
                            put(&mut px[(y * wi + x) as usize]);
                        }
                    }
                }
            }
        }
    }
    ColorImage::new([w, h], px)
}

/// What an image shows: a hash of the layers (colours, markers, every point's position), the
/// area and the size. The same key paints the same image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key(u64);

impl Key {
    pub fn of(layers: &[Layer<'_>], area: Area, w: usize, h: usize) -> Self {
        let mut s = Fnv(0xcbf2_9ce4_8422_2325);
        for l in layers {
            l.colour.to_array().hash(&mut s);
            match l.marker {
                Marker::Disc(r) => (0u8, r.to_bits()).hash(&mut s),
                Marker::Ring(r) => (1u8, r.to_bits()).hash(&mut s),
            }
            s.write_usize(l.points.len());
            for p in l.points {
                s.write_u64(p[0].to_bits());
                s.write_u64(p[1].to_bits());
            }
        }
        for v in area.min.iter().chain(&area.max) {
            s.write_u64(v.to_bits());
        }
        s.write_usize(w);
        s.write_usize(h);
        Key(s.finish())
    }
}

/// FNV-1a over 64-bit words (a plain, fast hash: 100k points a frame in well under a
/// millisecond; not for untrusted keys).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x0000_0100_0000_01b3);
        self.0 ^= self.0 >> 29;
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREA: Area = Area {
        min: [0.0, 0.0],
        max: [10.0, 5.0],
    };

    #[test]
    fn a_point_lands_on_its_pixel_with_y_up() {
        // 20 x 10 pixels of a 10 x 5 area: 2 pixels per unit.
        let red = Color32::from_rgb(255, 0, 0);
        let pts = [[1.25, 4.75], [8.75, 0.25]];
        let img = paint(
            &[Layer {
                colour: red,
                marker: Marker::Disc(0.5),
                points: &pts,
            }],
            AREA,
            20,
            10,
        );
        assert_eq!(pixel_of(pts[0], AREA, 20, 10), (2, 0));
        assert_eq!(pixel_of(pts[1], AREA, 20, 10), (17, 9));
        assert_eq!(img.pixels[2], red, "top row, where y is largest");
        assert_eq!(img.pixels[9 * 20 + 17], red);
        let painted = img.pixels.iter().filter(|c| c.a() > 0).count();
        assert!(
            painted < 12,
            "a radius-0.5 disc is about one pixel: {painted}"
        );
        // Far from both points nothing is painted.
        assert_eq!(img.pixels[5 * 20 + 10], Color32::TRANSPARENT);
    }

    #[test]
    fn later_layers_paint_over_earlier_ones_and_outside_points_are_left_out() {
        let (a, b) = (Color32::from_rgb(0, 0, 255), Color32::from_rgb(0, 255, 0));
        let p = [[5.0, 2.5]];
        let outside = [[50.0, 2.5], [-3.0, -3.0], [f64::NAN, 1.0]];
        let img = paint(
            &[
                Layer {
                    colour: a,
                    marker: Marker::Disc(2.0),
                    points: &p,
                },
                Layer {
                    colour: b,
                    marker: Marker::Disc(1.0),
                    points: &p,
                },
                Layer {
                    colour: a,
                    marker: Marker::Disc(3.0),
                    points: &outside,
                },
            ],
            AREA,
            20,
            10,
        );
        let (cx, cy) = pixel_of(p[0], AREA, 20, 10);
        assert_eq!(img.pixels[cy as usize * 20 + cx as usize], b);
        // Two pixels out is the wider disc's colour only.
        let edge = img.pixels[cy as usize * 20 + cx as usize + 2];
        assert!(edge.b() > 0 && edge.g() == 0, "{edge:?}");
        // The corners are untouched: the outside points drew nothing.
        for i in [0, 19, 9 * 20, 9 * 20 + 19] {
            assert_eq!(img.pixels[i], Color32::TRANSPARENT);
        }
    }

    #[test]
    fn a_ring_leaves_its_centre_empty() {
        let w = Color32::WHITE;
        let p = [[5.0, 2.5]];
        let img = paint(
            &[Layer {
                colour: w,
                marker: Marker::Ring(3.0),
                points: &p,
            }],
            AREA,
            20,
            10,
        );
        let (cx, cy) = pixel_of(p[0], AREA, 20, 10);
        assert_eq!(
            img.pixels[cy as usize * 20 + cx as usize],
            Color32::TRANSPARENT
        );
        assert_eq!(img.pixels[cy as usize * 20 + cx as usize + 3], w);
    }

    #[test]
    fn the_key_changes_with_any_point_colour_view_or_size() {
        let p = vec![[1.0, 1.0], [2.0, 3.0]];
        let mut q = p.clone();
        q[1][0] = 2.0001;
        let layer = |c, pts: &'static [[f64; 2]]| Layer {
            colour: c,
            marker: Marker::Disc(1.0),
            points: pts,
        };
        let p: &'static [[f64; 2]] = Box::leak(p.into_boxed_slice());
        let q: &'static [[f64; 2]] = Box::leak(q.into_boxed_slice());
        let k = Key::of(&[layer(Color32::RED, p)], AREA, 20, 10);
        assert_eq!(k, Key::of(&[layer(Color32::RED, p)], AREA, 20, 10));
        assert_ne!(k, Key::of(&[layer(Color32::RED, q)], AREA, 20, 10));
        assert_ne!(k, Key::of(&[layer(Color32::BLUE, p)], AREA, 20, 10));
        assert_ne!(k, Key::of(&[layer(Color32::RED, p)], AREA, 21, 10));
        let other = Area {
            min: [0.0, 0.0],
            max: [10.0, 5.5],
        };
        assert_ne!(k, Key::of(&[layer(Color32::RED, p)], other, 20, 10));
    }

    #[test]
    fn areas_pad_and_intersect() {
        let a = Area::around([[0.0, 0.0], [2.0, 1.0], [f64::NAN, 9.0]]).unwrap();
        assert_eq!(
            a,
            Area {
                min: [0.0, 0.0],
                max: [2.0, 1.0]
            }
        );
        let p = a.padded(0.5);
        assert_eq!(
            p,
            Area {
                min: [-1.0, -0.5],
                max: [3.0, 1.5]
            }
        );
        let i = p
            .intersect(Area {
                min: [1.0, 1.0],
                max: [9.0, 9.0],
            })
            .unwrap();
        assert_eq!(
            i,
            Area {
                min: [1.0, 1.0],
                max: [3.0, 1.5]
            }
        );
        assert!(a
            .intersect(Area {
                min: [5.0, 5.0],
                max: [6.0, 6.0]
            })
            .is_none());
        assert!(Area::around(Vec::<[f64; 2]>::new()).is_none());
        // One point still has an area once padded.
        let one = Area::around([[1.0, 1.0]]).unwrap().padded(0.05);
        assert!(one.width() > 0.0 && one.height() > 0.0);
    }
}
