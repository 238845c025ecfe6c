//! Backdoor watermarks: stamp a small `X` or `L` mark onto an H x W x C u8 image.

use std::str::FromStr;

use super::ImageShape;
use crate::error::{Error, Result};

/// Pixels between a `corner` mark and the bottom and right edges.
pub const CORNER_MARGIN: usize = 1;

/// The mark's shape, drawn one pixel thick inside a `size` x `size` box.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MarkShape {
    #[default]
    X,
    L,
}

crate::choice!(MarkShape, "mark shape", {
    X => "X", "Both diagonals of the box";
    L => "L", "The box's left column and bottom row";
});

/// Where the mark's box goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Position {
    /// Bottom-right, [`CORNER_MARGIN`] pixels from both edges.
    #[default]
    Corner,
    /// Centred (rounded towards the top-left).
    Center,
    /// The box's top-left pixel at (row, col).
    At { row: usize, col: usize },
}

impl FromStr for Position {
    type Err = String;

    /// `corner`, `center` (or `centre`), or `ROW,COL`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim().to_lowercase();
        match t.as_str() {
            "corner" => return Ok(Position::Corner),
            "center" | "centre" => return Ok(Position::Center),
            _ => {}
        }
        let bad = || format!("'{s}': expected corner, center or ROW,COL (e.g. 20,20)");
        let (r, c) = t.split_once(',').ok_or_else(bad)?;
        let row = r.trim().parse().map_err(|_| bad())?;
        let col = c.trim().parse().map_err(|_| bad())?;
        Ok(Position::At { row, col })
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Corner => f.write_str("corner"),
            Position::Center => f.write_str("center"),
            Position::At { row, col } => write!(f, "{row},{col}"),
        }
    }
}

/// A watermark: shape, box size in pixels, position and the value written to every channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Watermark {
    pub shape: MarkShape,
    pub size: usize,
    pub position: Position,
    pub value: u8,
}

impl Watermark {
    /// A bright (255) mark at the bottom-right corner.
    pub fn new(shape: MarkShape, size: usize) -> Self {
        Self {
            shape,
            size,
            position: Position::Corner,
            value: 255,
        }
    }

    /// A size that is visible but small for images of `shape`: a seventh of the shorter side,
    /// at least 3 pixels (4 for 28x28 and 32x32 images).
    pub fn default_size(shape: ImageShape) -> usize {
        (shape.height.min(shape.width) / 7).max(3)
    }

    /// Offsets (row, col) inside the box of the pixels the mark sets, in row-major order.
    pub fn offsets(&self) -> Vec<(usize, usize)> {
        let s = self.size;
        let mut v = Vec::new();
        for r in 0..s {
            for c in 0..s {
                let on = match self.shape {
                    MarkShape::X => r == c || r + c + 1 == s,
                    MarkShape::L => c == 0 || r + 1 == s,
                };
                if on {
                    v.push((r, c));
                }
            }
        }
        v
    }

    /// Top-left pixel of the mark's box in an image of `shape`; fails when it does not fit.
    pub fn origin(&self, shape: ImageShape) -> Result<(usize, usize)> {
        let (h, w, s) = (shape.height, shape.width, self.size);
        if s < 2 {
            return Err(Error::Config(format!(
                "watermark size {s}: must be at least 2 pixels"
            )));
        }
        let too_big = || {
            Error::Config(format!(
                "a {s}x{s} watermark at {} does not fit a {h}x{w} image",
                self.position
            ))
        };
        match self.position {
            Position::Corner => {
                let need = s + CORNER_MARGIN;
                if need > h || need > w {
                    return Err(too_big());
                }
                Ok((h - need, w - need))
            }
            Position::Center => {
                if s > h || s > w {
                    return Err(too_big());
                }
                Ok(((h - s) / 2, (w - s) / 2))
            }
            Position::At { row, col } => {
                if row + s > h || col + s > w {
                    return Err(too_big());
                }
                Ok((row, col))
            }
        }
    }

    /// Check that the mark fits images of `shape`.
    pub fn check(&self, shape: ImageShape) -> Result<()> {
        self.origin(shape).map(|_| ())
    }

    /// Stamp the mark onto `img` (H x W x C, row-major), writing `value` to every channel of
    /// the mark's pixels.
    pub fn stamp(&self, img: &mut [u8], shape: ImageShape) -> Result<()> {
        if img.len() != shape.len() {
            return Err(Error::Config(format!(
                "{} bytes is not a {shape} image",
                img.len()
            )));
        }
        let (r0, c0) = self.origin(shape)?;
        let ch = shape.channels;
        for (r, c) in self.offsets() {
            let p = ((r0 + r) * shape.width + c0 + c) * ch;
            img[p..p + ch].fill(self.value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The image as rows of chars: '#' where every channel is 255, '.' where it is 0.
    fn picture(img: &[u8], shape: ImageShape) -> Vec<String> {
        (0..shape.height)
            .map(|r| {
                (0..shape.width)
                    .map(|c| {
                        let p = (r * shape.width + c) * shape.channels;
                        let px = &img[p..p + shape.channels];
                        if px.iter().all(|&v| v == 255) {
                            '#'
                        } else if px.iter().all(|&v| v == 0) {
                            '.'
                        } else {
                            '?'
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn x_in_the_corner_gray() {
        let shape = ImageShape::new(6, 7, 1);
        let mut img = vec![0u8; shape.len()];
        Watermark::new(MarkShape::X, 3)
            .stamp(&mut img, shape)
            .unwrap();
        assert_eq!(
            picture(&img, shape),
            [".......", ".......", "...#.#.", "....#..", "...#.#.", ".......",]
        );
    }

    #[test]
    fn l_at_the_center_rgb() {
        let shape = ImageShape::new(7, 7, 3);
        let mut img = vec![0u8; shape.len()];
        let m = Watermark {
            position: Position::Center,
            ..Watermark::new(MarkShape::L, 4)
        };
        m.stamp(&mut img, shape).unwrap();
        assert_eq!(
            picture(&img, shape),
            [".......", ".#.....", ".#.....", ".#.....", ".####..", ".......", ".......",]
        );
    }

    #[test]
    fn explicit_position_and_value() {
        let shape = ImageShape::new(5, 5, 3);
        let mut img = vec![7u8; shape.len()];
        let m = Watermark {
            position: Position::At { row: 0, col: 1 },
            value: 9,
            ..Watermark::new(MarkShape::X, 2)
        };
        m.stamp(&mut img, shape).unwrap();
        let set: Vec<usize> = (0..25).filter(|&p| img[p * 3] == 9).collect();
        // a 2x2 X covers its whole box: (0,1) (0,2) (1,1) (1,2)
        assert_eq!(set, vec![1, 2, 6, 7]);
        assert!(img.chunks(3).all(|px| px[0] == px[1] && px[1] == px[2]));
        assert_eq!(img.iter().filter(|&&v| v == 9).count(), 12);
    }

    #[test]
    fn offsets_and_sizes() {
        assert_eq!(Watermark::new(MarkShape::X, 5).offsets().len(), 9);
        assert_eq!(Watermark::new(MarkShape::X, 4).offsets().len(), 8);
        assert_eq!(Watermark::new(MarkShape::L, 4).offsets().len(), 7);
        assert_eq!(Watermark::default_size(ImageShape::new(28, 28, 1)), 4);
        assert_eq!(Watermark::default_size(ImageShape::new(32, 32, 3)), 4);
        assert_eq!(Watermark::default_size(ImageShape::new(8, 8, 3)), 3);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let shape = ImageShape::new(4, 4, 1);
        let mut img = vec![0u8; 16];
        assert!(Watermark::new(MarkShape::X, 4)
            .stamp(&mut img, shape)
            .is_err());
        let at = Watermark {
            position: Position::At { row: 2, col: 0 },
            ..Watermark::new(MarkShape::L, 3)
        };
        assert!(at.stamp(&mut img, shape).is_err());
        assert!(Watermark::new(MarkShape::X, 1).check(shape).is_err());
        assert!(Watermark::new(MarkShape::X, 3)
            .stamp(&mut img[..15], shape)
            .is_err());
        assert!(img.iter().all(|&v| v == 0));
    }

    #[test]
    fn parse_position() {
        assert_eq!("corner".parse(), Ok(Position::Corner));
        assert_eq!("Centre".parse(), Ok(Position::Center));
        assert_eq!(" 3, 4".parse(), Ok(Position::At { row: 3, col: 4 }));
        assert!("3".parse::<Position>().is_err());
        assert!("a,b".parse::<Position>().is_err());
        assert_eq!(Position::At { row: 1, col: 2 }.to_string(), "1,2");
    }
}
