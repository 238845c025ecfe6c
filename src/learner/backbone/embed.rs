//! Embedding a list of image files with a backbone: files decoded in parallel in bounded
//! batches and streamed through the model (never all images in memory), a per-file error for
//! files that cannot be read, progress and cancellation through a callback.

use std::path::PathBuf;

use super::preprocess::{decode_batch, ImageBatch};
use super::Backbone;
use crate::error::{Error, Result};

/// What [`embed_files_with`] hands its sink after each batch.
#[derive(Debug)]
pub struct EmbeddedBatch<'a> {
    /// Indices (into the file list) of the embedded files, in order.
    pub indices: &'a [usize],
    /// `indices.len() x dim` embeddings, row-major.
    pub embeddings: &'a [f32],
    /// Files of this batch that could not be embedded: index and reason.
    pub failed: Vec<(usize, Error)>,
    /// Files handled so far (this batch included) and in all.
    pub done: usize,
    pub total: usize,
}

/// Embeds `files` in batches of `batch_size`, calling `sink` after each batch; an error from
/// the sink (e.g. [`Error::Cancelled`]) stops the work and is returned. A file that cannot be
/// decoded is reported in the batch's `failed` and skipped; a model error stops the work.
pub fn embed_files_with(
    backbone: &dyn Backbone,
    files: &[PathBuf],
    batch_size: usize,
    sink: &mut dyn FnMut(EmbeddedBatch<'_>) -> Result<()>,
) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::Config("batch size must be at least 1".into()));
    }
    let spec = *backbone.input();
    let res = spec.resolution;
    let mut done = 0;
    for (b, chunk) in files.chunks(batch_size).enumerate() {
        let first = b * batch_size;
        let mut indices = Vec::with_capacity(chunk.len());
        let mut failed = Vec::new();
        let mut pixels = Vec::with_capacity(chunk.len() * res * res * 3);
        for (i, r) in decode_batch(chunk, &spec).into_iter().enumerate() {
            match r {
                Ok(v) => {
                    indices.push(first + i);
                    pixels.extend_from_slice(&v);
                }
                Err(e) => failed.push((first + i, e)),
            }
        }
        let batch = ImageBatch {
            n: indices.len(),
            height: res,
            width: res,
            pixels,
        };
        let embeddings = if batch.n > 0 {
            backbone.embed(&batch)?
        } else {
            Vec::new()
        };
        done += chunk.len();
        sink(EmbeddedBatch {
            indices: &indices,
            embeddings: &embeddings,
            failed,
            done,
            total: files.len(),
        })?;
    }
    Ok(())
}

/// All embeddings of a file list.
#[derive(Debug)]
pub struct Embeddings {
    pub dim: usize,
    /// `files.len() x dim`, row-major; rows of failed files are zero.
    pub values: Vec<f32>,
    /// Whether each file was embedded.
    pub ok: Vec<bool>,
    /// The files that could not be embedded, with the reason.
    pub failed: Vec<(usize, Error)>,
}

impl Embeddings {
    /// The embedding of file `i`, None if it failed.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        self.ok
            .get(i)
            .copied()
            .unwrap_or(false)
            .then(|| &self.values[i * self.dim..(i + 1) * self.dim])
    }
}

/// Embeds `files` (see [`embed_files_with`]) into one matrix; `tick(done, total)` is called
/// after each batch and stops the work when it returns an error.
pub fn embed_files(
    backbone: &dyn Backbone,
    files: &[PathBuf],
    batch_size: usize,
    tick: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<Embeddings> {
    let dim = backbone.embedding_dim();
    let mut out = Embeddings {
        dim,
        values: vec![0.0; files.len() * dim],
        ok: vec![false; files.len()],
        failed: Vec::new(),
    };
    embed_files_with(backbone, files, batch_size, &mut |b| {
        for (row, &i) in b.embeddings.chunks_exact(dim).zip(b.indices) {
            out.values[i * dim..(i + 1) * dim].copy_from_slice(row);
            out.ok[i] = true;
        }
        out.failed.extend(b.failed);
        tick(b.done, b.total)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::MeanColour;

    fn files(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (i, v) in [0u8, 255, 0, 255, 0].iter().enumerate() {
            let p = dir.join(format!("{i}.png"));
            if i != 2 {
                image::RgbImage::from_pixel(16, 16, image::Rgb([*v, 0, 0]))
                    .save(&p)
                    .unwrap();
            } // file 2 is missing
            out.push(p);
        }
        out
    }

    fn backbone() -> MeanColour {
        MeanColour::new()
    }

    #[test]
    fn files_are_embedded_in_order_and_failures_reported() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let mut ticks = Vec::new();
        let e = embed_files(&backbone(), &files, 2, &mut |d, t| {
            ticks.push((d, t));
            Ok(())
        })
        .unwrap();
        assert_eq!(ticks, vec![(2, 5), (4, 5), (5, 5)]);
        assert_eq!(e.ok, vec![true, true, false, true, true]);
        assert_eq!(e.failed.len(), 1);
        assert_eq!(e.failed[0].0, 2);
        assert!(e.failed[0].1.to_string().contains("2.png"));
        let red = |i: usize| e.row(i).unwrap()[0];
        let (lo, hi) = (-127.0 / 128.0, 1.0);
        assert!((red(0) - lo).abs() < 1e-5 && (red(1) - hi).abs() < 1e-5);
        assert!((red(3) - hi).abs() < 1e-5 && (red(4) - lo).abs() < 1e-5);
        assert!(e.row(2).is_none());
    }

    #[test]
    fn an_error_from_the_tick_cancels() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let mut calls = 0;
        let r = embed_files(&backbone(), &files, 2, &mut |_, _| {
            calls += 1;
            Err(Error::Cancelled)
        });
        assert!(matches!(r, Err(Error::Cancelled)));
        assert_eq!(calls, 1);
    }
}
