//! Thumbnail textures: made lazily from the stored u8 pixels for visible cells only, kept in an
//! LRU keyed by sample index, with a per-frame upload budget so scrolling stays smooth.

use std::collections::HashMap;

use egui::{ColorImage, TextureHandle, TextureId, TextureOptions};

use crate::data::Dataset;

/// Textures kept at most.
pub const CAPACITY: usize = 1500;
/// New textures made per frame at most; the rest come next frame.
pub const UPLOADS_PER_FRAME: usize = 256;

/// A sample's stored pixels as an egui image.
pub fn color_image(data: &Dataset, i: usize) -> ColorImage {
    let s = data.shape;
    let px = data.image(i);
    if s.channels == 3 {
        ColorImage::from_rgb([s.width, s.height], px)
    } else {
        ColorImage::from_gray([s.width, s.height], px)
    }
}

pub struct Thumbs {
    generation: u64,
    map: HashMap<usize, (TextureHandle, u64)>,
    clock: u64,
    uploads_this_frame: usize,
    /// Cells that wanted a texture this frame but were over the budget.
    pub deferred: usize,
}

impl Default for Thumbs {
    fn default() -> Self {
        Self {
            generation: u64::MAX,
            map: HashMap::new(),
            clock: 0,
            uploads_this_frame: 0,
            deferred: 0,
        }
    }
}

impl Thumbs {
    /// Call at the start of every frame; drops everything when the dataset changed.
    pub fn begin_frame(&mut self, generation: u64) {
        if generation != self.generation {
            self.map.clear();
            self.generation = generation;
        }
        self.clock += 1;
        self.uploads_this_frame = 0;
        self.deferred = 0;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The texture of sample `i`, made now if the frame's budget allows.
    pub fn get(&mut self, ctx: &egui::Context, data: &Dataset, i: usize) -> Option<TextureId> {
        if let Some((t, used)) = self.map.get_mut(&i) {
            *used = self.clock;
            return Some(t.id());
        }
        if self.uploads_this_frame >= UPLOADS_PER_FRAME || i >= data.len() {
            self.deferred += 1;
            return None;
        }
        self.uploads_this_frame += 1;
        let t = ctx.load_texture(
            format!("thumb-{i}"),
            color_image(data, i),
            TextureOptions::NEAREST,
        );
        let id = t.id();
        self.map.insert(i, (t, self.clock));
        if self.map.len() > CAPACITY {
            self.evict();
        }
        Some(id)
    }

    /// Drop the least recently used quarter (never this frame's textures).
    fn evict(&mut self) {
        let mut ages: Vec<u64> = self.map.values().map(|(_, u)| *u).collect();
        let k = self.map.len() / 4;
        ages.select_nth_unstable(k);
        let limit = ages[k].min(self.clock.saturating_sub(1));
        self.map.retain(|_, (_, u)| *u > limit);
    }
}

/// How a single image's texture is filtered: crisp pixels when it is shown larger than it is
/// (a 28x28 sample), smooth when a large photo is shown smaller.
pub const SAMPLE_TEXTURE: TextureOptions = TextureOptions {
    magnification: egui::TextureFilter::Nearest,
    minification: egui::TextureFilter::Linear,
    ..TextureOptions::LINEAR
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageShape, Source};

    #[test]
    fn lru_budget_and_eviction() {
        let n = CAPACITY + 600;
        let d = Dataset::from_parts(
            "t",
            Source::Memory,
            vec!["a".into()],
            ImageShape::new(2, 2, 1),
            vec![7; n * 4],
            vec![0; n],
            (0..n).map(|i| i.to_string()).collect(),
        )
        .unwrap();
        let ctx = egui::Context::default();
        let mut t = Thumbs::default();
        let mut made = 0;
        for frame in 0..20 {
            t.begin_frame(1);
            for i in 0..UPLOADS_PER_FRAME + 10 {
                let idx = (frame * UPLOADS_PER_FRAME + i) % n;
                if t.get(&ctx, &d, idx).is_some() {
                    made += 1;
                }
            }
            assert!(t.len() <= CAPACITY);
        }
        assert!(made > 0);
        // Recently used survive, a new generation clears.
        t.begin_frame(1);
        t.begin_frame(2);
        assert!(t.is_empty());
        let img = color_image(&d, 0);
        assert_eq!(img.size, [2, 2]);
    }
}
