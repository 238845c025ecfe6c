//! Decoding a list of image files, each with its class, to one model shape: what an image
//! folder and a labels CSV share once they know their files. Headers first (when the shape is
//! not given) to choose the shape, then the pixels, in parallel, each file decoded straight
//! into its slot; files that cannot be used go to the caller's skip list.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::dataset::Original;
use super::image_folder::{check_options, decode_into, guarded, read_header};
use super::{ImageShape, LoadOptions, Skipped};
use crate::error::{Error, Result};

/// How many skip reasons an error message quotes.
const REASONS_QUOTED: usize = 3;

/// A file to load: its path relative to the source root (or absolute) and its class's index
/// in the caller's numbering.
pub(super) struct Entry {
    pub rel: PathBuf,
    pub class: usize,
}

/// What a header says: enough to choose the model shape.
#[derive(Clone, Copy)]
pub(super) struct Header {
    pub height: u32,
    pub width: u32,
    pub gray: bool,
}

/// The files that loaded: their pixels in one storage, in the entries' order.
pub(super) struct Decoded {
    pub shape: ImageShape,
    pub pixels: Vec<u8>,
    pub entries: Vec<Entry>,
    pub originals: Vec<Original>,
}

/// Decode `root.join(entry.rel)` for every entry, to `opts`' shape or one chosen from the
/// headers; each file that fails goes to `skipped` with its reason. `named` is what an error
/// names (the folder or the file that listed the files) when no file loads at all.
pub(super) fn decode_entries(
    root: &Path,
    named: &Path,
    mut entries: Vec<Entry>,
    opts: &LoadOptions,
    skipped: &mut Vec<Skipped>,
) -> Result<Decoded> {
    check_options(opts)?;
    let progress = opts.progress.as_deref();
    if let Some(p) = progress {
        p.found(entries.len());
    }
    let shape = match (opts.size, opts.channels) {
        (Some((h, w)), Some(c)) => ImageShape::new(h, w, c),
        _ => {
            let headers: Vec<std::result::Result<Header, String>> = entries
                .par_iter()
                .with_min_len(16)
                .map(|e| {
                    let h = guarded(|| read_header(&root.join(&e.rel)));
                    if let Some(p) = progress {
                        p.header();
                    }
                    h
                })
                .collect();
            let found = entries.len();
            let mut good = Vec::with_capacity(entries.len());
            let mut kept = Vec::with_capacity(entries.len());
            for (e, h) in entries.into_iter().zip(headers) {
                match h {
                    Ok(h) => {
                        good.push(h);
                        kept.push(e);
                    }
                    Err(reason) => skipped.push(Skipped {
                        path: root.join(&e.rel),
                        reason,
                    }),
                }
            }
            if let Some(p) = progress {
                p.dropped(found - kept.len());
            }
            entries = kept;
            if good.is_empty() {
                return Err(no_images(named, root, skipped));
            }
            choose_shape(&good, opts)
        }
    };

    // Decode each file straight into its slot of the pixel storage.
    let len = shape.len();
    let mut pixels = vec![0u8; entries.len() * len];
    let results: Vec<std::result::Result<Original, String>> = pixels
        .par_chunks_mut(len)
        .zip(entries.par_iter())
        .with_min_len(16)
        .map(|(out, e)| {
            let r = guarded(|| decode_into(&root.join(&e.rel), shape, out, opts.file_stats));
            if let Some(p) = progress {
                p.decoded();
            }
            r
        })
        .collect();

    // Drop the failures, compacting the storage in place.
    let mut kept = 0;
    let mut kept_entries = Vec::with_capacity(entries.len());
    let mut originals = Vec::with_capacity(entries.len());
    for (i, (e, r)) in entries.into_iter().zip(results).enumerate() {
        match r {
            Ok(original) => {
                if kept != i {
                    pixels.copy_within(i * len..(i + 1) * len, kept * len);
                }
                kept_entries.push(e);
                originals.push(original);
                kept += 1;
            }
            Err(reason) => skipped.push(Skipped {
                path: root.join(&e.rel),
                reason,
            }),
        }
    }
    if kept == 0 {
        return Err(no_images(named, root, skipped));
    }
    if kept * len < pixels.len() {
        pixels.truncate(kept * len);
        pixels.shrink_to_fit();
    }
    Ok(Decoded {
        shape,
        pixels,
        entries: kept_entries,
        originals,
    })
}

/// The error when no file loads: how many were skipped and the first reasons, each file
/// named relative to `root`.
pub(super) fn no_images(named: &Path, root: &Path, skipped: &[Skipped]) -> Error {
    if skipped.is_empty() {
        return Error::data(named, "no images found: every class folder is empty");
    }
    let first: Vec<String> = skipped
        .iter()
        .take(REASONS_QUOTED)
        .map(|s| {
            let p = (s.path.strip_prefix(named))
                .or_else(|_| s.path.strip_prefix(root))
                .unwrap_or(&s.path);
            format!("{}: {}", p.display(), s.reason)
        })
        .collect();
    Error::data(
        named,
        format!(
            "no images found: {} files skipped; first reasons: {}",
            skipped.len(),
            first.join("; ")
        ),
    )
}

/// The most common (height, width) among the headers (ties: the smallest) when at least a
/// quarter of the images have it, else the median height and the median width (photos of
/// every size: the most common size would be whichever two happen to match, often a
/// thumbnail's); each side capped at `max_side` keeping the aspect ratio; channels 1 when
/// every image is gray, else 3.
fn choose_shape(headers: &[Header], opts: &LoadOptions) -> ImageShape {
    let (h, w) = match opts.size {
        Some(s) => s,
        None => {
            let mut sizes: Vec<(u32, u32)> = headers.iter().map(|h| (h.height, h.width)).collect();
            sizes.sort_unstable();
            // `max_by_key` keeps the last of equal counts: reversed, that is the smallest size.
            let common = sizes
                .chunk_by(|a, b| a == b)
                .rev()
                .max_by_key(|g| g.len())
                .filter(|g| 4 * g.len() >= sizes.len())
                .and_then(|g| g.first().copied());
            let (h, w) = common.unwrap_or_else(|| {
                let median = |mut v: Vec<u32>| {
                    v.sort_unstable();
                    v.get(v.len() / 2).copied().unwrap_or(1)
                };
                (
                    median(sizes.iter().map(|s| s.0).collect()),
                    median(sizes.iter().map(|s| s.1).collect()),
                )
            });
            cap_size(h as usize, w as usize, opts.max_side)
        }
    };
    let channels = opts
        .channels
        .unwrap_or(if headers.iter().all(|h| h.gray) { 1 } else { 3 });
    ImageShape::new(h, w, channels)
}

/// Scale (h, w) down so that its longer side is at most `max_side`, keeping the aspect ratio.
fn cap_size(h: usize, w: usize, max_side: usize) -> (usize, usize) {
    let longest = h.max(w);
    if longest <= max_side {
        return (h, w);
    }
    let scale = |s: usize| ((s * max_side + longest / 2) / longest).max(1);
    (scale(h), scale(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_aspect() {
        assert_eq!(cap_size(28, 28, 64), (28, 28));
        assert_eq!(cap_size(128, 96, 64), (64, 48));
        assert_eq!(cap_size(1000, 10, 64), (64, 1));
    }

    #[test]
    fn shape_is_the_most_common_size_or_the_median() {
        let h = |height, width, gray| Header {
            height,
            width,
            gray,
        };
        let opts = LoadOptions::default();
        let s = choose_shape(&[h(10, 12, true), h(8, 8, true), h(10, 12, true)], &opts);
        assert_eq!(s, ImageShape::new(10, 12, 1));
        let s = choose_shape(&[h(10, 12, true), h(8, 8, false)], &opts);
        assert_eq!(s, ImageShape::new(8, 8, 3));
        // Every size different (crops, scraped photos): the median height and width, not
        // the smallest (a 16 px thumbnail) or a stray pair.
        let varied = [
            h(300, 400, false),
            h(16, 16, false),
            h(60, 400, false),
            h(60, 400, false),
            h(280, 350, false),
            h(500, 380, false),
            h(320, 300, false),
            h(310, 420, false),
            h(290, 360, false),
        ];
        let s = choose_shape(&varied, &opts);
        // (60 x 400 twice is 2 of 9, under a quarter.)
        assert_eq!((s.height, s.width), cap_size(290, 380, opts.max_side));
    }
}
