//! Image folders (torchvision's ImageFolder convention, `root/<class>/<...>/<file>`), decoded in
//! parallel straight to one model shape; bad files are reported in `Dataset::skipped`, not fatal.
//!
//! Loading reads every file twice when the shape must be chosen: first its header (size and
//! colour type, no pixels), then the pixels, each image decoded, converted and resized on its
//! own so that only the small u8 result is ever kept. A root holding `train/` and `test/`, each
//! with class folders, loads as train + test ([`load_split`]).

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use rayon::prelude::*;

use super::dataset::Original;
use super::image_files::{decode_entries, Decoded, Entry, Header};
use super::quality::PixelStats;
use super::{Dataset, ImageShape, LoadOptions, Loaded, Skipped, Source};
use crate::error::{Error, Result};

/// Largest side of an image the loader decodes.
pub const MAX_IMAGE_SIDE: u32 = 16384;
/// Largest decoded size of one image, in bytes: a header claiming more is refused before any
/// pixel buffer is allocated.
pub const MAX_DECODED_BYTES: u64 = 128 << 20;

/// Load `root/<class>/<...>/<file>`: classes are the names of the subfolders of `root`
/// (hidden ones ignored; sorted, numerically when all are integers:
/// [`super::dataset::sort_class_names`]), samples are the files found recursively in each, in
/// sorted order, with ids = paths relative to `root` joined by '/'. Images directly in `root`
/// beside class folders are listed in `skipped` (other files there are ignored). A root without
/// class folders but with images directly in it ([`IMAGE_EXTENSIONS`]) loads as an unlabelled
/// set ([`Dataset::is_unlabelled`]: one class named `""`), ids = file names. Files that cannot
/// be used (empty, corrupt, not an image, too large, unreadable, ...) and class folders without
/// a loadable image are listed in `skipped`.
///
/// With [`LoadOptions::unlabelled`] every image under `root` (by [`IMAGE_EXTENSIONS`]),
/// recursively (hidden names and a clean copy's [`QUARANTINE_FOLDER`] skipped, links
/// followed), is a sample of the one class `""`, whatever the subfolders, ids = paths
/// relative to `root`: a flat folder of photos beside a `thumbnails/` folder, or a labelled
/// set ranked without its labels. Other files are not listed.
pub fn load(root: &Path, opts: &LoadOptions) -> Result<Dataset> {
    check_root(root)?;
    load_part(root, Path::new(""), Dataset::name_for(root), opts)
}

/// The folders of a root that follows the train/test convention: `root/train/<class>/...` and
/// `root/test/<class>/...` (each holding at least one class folder).
pub fn split_dirs(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let (train, test) = (root.join("train"), root.join("test"));
    let has_classes = |d: &Path| class_folders(d).map(|c| !c.is_empty()).unwrap_or(false);
    (has_classes(&train) && has_classes(&test)).then_some((train, test))
}

/// Load a root that holds `train/` and `test/` class folders. Both keep `root` as their source
/// (ids start with `train/` or `test/`); the test set is decoded straight to the training
/// shape and its classes are numbered as the training set's (matched by name).
pub fn load_split(root: &Path, opts: &LoadOptions) -> Result<Loaded> {
    check_root(root)?;
    let name = Dataset::name_for(root);
    let train = load_part(root, Path::new("train"), name.clone(), opts)?;
    let test_opts = LoadOptions {
        size: Some((train.shape.height, train.shape.width)),
        channels: Some(train.shape.channels),
        max_side: opts.max_side,
        file_stats: false,
        progress: opts.progress.clone(),
        columns: opts.columns.clone(),
        test_split: false,
        unlabelled: false,
    };
    if !opts.test_split {
        return Ok(Loaded { train, test: None });
    }
    let mut test = load_part(
        root,
        Path::new("test"),
        format!("{name} (test)"),
        &test_opts,
    )
    .map_err(unasked_test_split)?;
    test.align_classes(&train.classes)
        .map_err(unasked_test_split)?;
    test.conform_to(train.shape);
    Ok(Loaded {
        train,
        test: Some(test),
    })
}

/// `e`, of a test split a set carries and a load read unasked, with how to go without it.
pub fn unasked_test_split(e: Error) -> Error {
    Error::Other(format!(
        "{e} (the set's test split, read by default: --no-test, or the window's \
         \"no test set\" box, runs without it; --test names another)"
    ))
}

fn check_root(root: &Path) -> Result<()> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::data(root, "not a directory"));
    }
    Ok(())
}

pub(super) fn check_options(opts: &LoadOptions) -> Result<()> {
    if let Some(c) = opts.channels {
        if c != 1 && c != 3 {
            return Err(Error::Config(format!(
                "{c} channels: only 1 (gray) or 3 (RGB) are supported"
            )));
        }
    }
    if let Some((h, w)) = opts.size {
        if h == 0 || w == 0 || h > MAX_IMAGE_SIDE as usize || w > MAX_IMAGE_SIDE as usize {
            return Err(Error::Config(format!(
                "image size {h}x{w}: each side must be 1 to {MAX_IMAGE_SIDE}"
            )));
        }
    }
    if opts.max_side == 0 {
        return Err(Error::Config("max_side must be at least 1".into()));
    }
    Ok(())
}

/// The kernel's virtual file system (`/proc`, `/sys`, `/dev`) that `p` resolves into, if any:
/// walking one follows links such as `/proc/self/root` into the whole machine and reads files
/// that never end, so a dataset never goes there (a link into one is skipped).
pub fn virtual_fs(p: &Path) -> Option<&'static str> {
    if !cfg!(unix) {
        return None;
    }
    let real = std::fs::canonicalize(p).ok()?;
    ["/proc", "/sys", "/dev"]
        .into_iter()
        .find(|fs| real.starts_with(fs))
}

/// The folder a clean copy puts its still-flagged samples in (`export --flagged-folder`):
/// never a class, so that a cleaned set opens with its own classes.
pub const QUARANTINE_FOLDER: &str = "_flagged";

/// The file name extensions of images (matched in any case): a flat folder's samples, and
/// what a labels CSV's path without an extension is tried with. HEIC, HEIF and AVIF are
/// listed so that such a file is named as unsupported, not passed over.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp", "tga", "pbm", "pgm", "ppm", "pnm",
    "pam", "ico", "dds", "exr", "hdr", "ff", "qoi", "jfif", "heic", "heif", "avif",
];

/// Whether `p`'s name ends in one of [`IMAGE_EXTENSIONS`] (any case).
pub fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The images directly in `dir` (by [`has_image_extension`]; hidden names skipped; links to
/// files count), sorted by name.
fn loose_images(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut out = entries_of(dir, false, |name| has_image_extension(Path::new(name)))?;
    out.sort();
    Ok(out)
}

/// The non-hidden names in `dir` that `keep` accepts and that are folders (`dirs`) or files
/// (else); symbolic links count as what they point to. In directory order.
fn entries_of(
    dir: &Path,
    dirs: bool,
    keep: impl Fn(&std::ffi::OsStr) -> bool,
) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if is_hidden(&name) || !keep(&name) {
            continue;
        }
        let ft = entry.file_type()?;
        let is = |m: &std::fs::Metadata| if dirs { m.is_dir() } else { m.is_file() };
        let wanted = if dirs { ft.is_dir() } else { ft.is_file() }
            || (ft.is_symlink()
                && std::fs::metadata(entry.path())
                    .map(|m| is(&m))
                    .unwrap_or(false));
        if wanted {
            out.push(name);
        }
    }
    Ok(out)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// The non-hidden subfolders of `dir` (symbolic links to folders count), in class order
/// ([`super::dataset::sort_class_names`]: by name, numerically when all are integers).
fn class_folders(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut out = entries_of(dir, true, |_| true)?;
    super::dataset::sort_class_names(&mut out);
    Ok(out)
}

/// Load the class folders under `root/base` as one dataset whose source is `root`.
fn load_part(root: &Path, base: &Path, name: String, opts: &LoadOptions) -> Result<Dataset> {
    check_options(opts)?;
    let dir = root.join(base);
    let mut folders = class_folders(&dir).map_err(|e| Error::io(&dir, e))?;
    // A clean copy's still-flagged samples are not a class of the cleaned set.
    let quarantined = folders
        .iter()
        .position(|f| f == QUARANTINE_FOLDER)
        .map(|k| folders.remove(k));
    // Images directly in the root: an unlabelled set's samples where it has no class
    // folders, else files in no class (a split's own folders are not looked at).
    let loose = if base.as_os_str().is_empty() {
        loose_images(&dir).map_err(|e| Error::io(&dir, e))?
    } else {
        Vec::new()
    };
    let mut skipped = Vec::new();
    if opts.unlabelled && base.as_os_str().is_empty() {
        // Every image under the root, in the one class "".
        let (mut entries, mut bad) = (Vec::new(), Vec::new());
        walk_class(root, base, 0, &mut entries, &mut bad);
        let quarantine = |rel: &Path| {
            rel.components()
                .next()
                .is_some_and(|c| c.as_os_str() == QUARANTINE_FOLDER)
        };
        entries.retain(|e| has_image_extension(&e.rel) && !quarantine(&e.rel));
        bad.retain(|s| !s.path.strip_prefix(root).is_ok_and(quarantine));
        if entries.is_empty() && bad.is_empty() {
            return Err(Error::data(
                &dir,
                "no images in it or in its subfolders (read as unlabelled images: by the file \
                 name extensions .png, .jpg, ...)",
            ));
        }
        folders = vec![std::ffi::OsString::new()];
        return finish_part(
            root,
            base,
            name,
            opts,
            folders,
            vec![(entries, bad)],
            skipped,
            quarantined,
        );
    }
    let flat = folders.is_empty();
    if flat && loose.is_empty() {
        return Err(Error::data(
            &dir,
            "no class subfolders and no images: expected root/<class>/<image> (a labelled \
             set) or images directly in root (an unlabelled set: the image checks and the \
             generative mode)",
        ));
    }
    let walked: Vec<(Vec<Entry>, Vec<Skipped>)> = if flat {
        // One class named "", the set's files directly in the root.
        folders.push(std::ffi::OsString::new());
        let (mut entries, mut bad) = (Vec::new(), Vec::new());
        for name in loose {
            let rel = PathBuf::from(name);
            if breaks_lists(&rel) {
                bad.push(name_breaks_lists(root.join(&rel)));
            } else {
                entries.push(Entry { rel, class: 0 });
            }
        }
        vec![(entries, bad)]
    } else {
        skipped.extend(loose.iter().map(|name| Skipped {
            path: dir.join(name),
            reason: Skipped::LOOSE_IMAGE.into(),
        }));
        // 1. Find the files, in a deterministic order (class folders walked in parallel).
        folders
            .par_iter()
            .enumerate()
            .map(|(k, f)| {
                let (mut entries, mut skipped) = (Vec::new(), Vec::new());
                walk_class(root, &base.join(f), k, &mut entries, &mut skipped);
                (entries, skipped)
            })
            .collect()
    };
    finish_part(
        root,
        base,
        name,
        opts,
        folders,
        walked,
        skipped,
        quarantined,
    )
}

/// The rest of [`load_part`] once the files are found: `walked` holds each of `folders`'
/// files and the ones skipped while walking it.
#[allow(clippy::too_many_arguments)]
fn finish_part(
    root: &Path,
    base: &Path,
    name: String,
    opts: &LoadOptions,
    folders: Vec<std::ffi::OsString>,
    walked: Vec<(Vec<Entry>, Vec<Skipped>)>,
    mut skipped: Vec<Skipped>,
    quarantined: Option<std::ffi::OsString>,
) -> Result<Dataset> {
    let dir = root.join(base);
    let folder_rels: Vec<PathBuf> = folders.iter().map(|f| base.join(f)).collect();
    let found: Vec<usize> = walked.iter().map(|(e, s)| e.len() + s.len()).collect();
    let mut entries = Vec::with_capacity(found.iter().sum());
    if let Some(q) = quarantined {
        skipped.push(Skipped {
            path: dir.join(q),
            reason: "a clean copy's still-flagged samples (export --flagged-folder): not a \
                     class; move a file into its class folder to train on it"
                .into(),
        });
    }
    for (e, s) in walked {
        entries.extend(e);
        skipped.extend(s);
    }

    // 2. Headers, the shape, the pixels (shared with a labels CSV); failures are skipped.
    let Decoded {
        shape,
        pixels,
        entries: kept_entries,
        originals,
    } = decode_entries(root, &dir, entries, opts, &mut skipped)?;
    let mut loaded = vec![0usize; folders.len()];
    for e in &kept_entries {
        loaded[e.class] += 1;
    }
    let mut class_of = vec![u32::MAX; folders.len()];
    let mut classes = Vec::new();
    for (k, f) in folders.iter().enumerate() {
        if loaded[k] > 0 {
            class_of[k] = classes.len() as u32;
            classes.push(f.to_string_lossy().into_owned());
        } else {
            skipped.push(Skipped {
                path: root.join(&folder_rels[k]),
                reason: if found[k] == 0 {
                    Skipped::EMPTY_CLASS_FOLDER.into()
                } else {
                    "no loadable image in this class folder: not used as a class".into()
                },
            });
        }
    }
    let labels = kept_entries.iter().map(|e| class_of[e.class]).collect();
    let ids: Vec<String> = kept_entries.iter().map(|e| id_of(&e.rel)).collect();
    let lossy = kept_entries.iter().any(|e| e.rel.to_str().is_none());
    let files = lossy.then(|| kept_entries.into_iter().map(|e| e.rel).collect());
    let mut data = Dataset::from_parts(
        name,
        Source::ImageFolder {
            root: root.to_path_buf(),
        },
        classes,
        shape,
        pixels,
        labels,
        ids,
    )?
    .with_originals(originals)?;
    if let Some(files) = files {
        data = data.with_files(files)?;
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    data.skipped = skipped;
    Ok(data)
}

/// A relative path as an id: its components, lossily as UTF-8, joined by '/'.
fn id_of(rel: &Path) -> String {
    let mut s = String::new();
    for c in rel.components() {
        if !s.is_empty() {
            s.push('/');
        }
        s.push_str(&c.as_os_str().to_string_lossy());
    }
    s
}

/// Whether a file's path holds a character that would split a line of the exported lists
/// (newline, carriage return, tab).
pub(super) fn breaks_lists(rel: &Path) -> bool {
    rel.to_string_lossy().contains(['\n', '\r', '\t'])
}

/// The file at `path` skipped for a name that [`breaks_lists`].
fn name_breaks_lists(path: PathBuf) -> Skipped {
    Skipped {
        path,
        reason: "its name holds a newline, carriage return or tab, which would break the lines \
                 of clean.txt and flagged.txt: rename it"
            .into(),
    }
}

/// Collect the files under `root/rel` (recursively, sorted, links followed, hidden names
/// skipped); what cannot be walked goes to `skipped`.
fn walk_class(
    root: &Path,
    rel: &Path,
    folder: usize,
    entries: &mut Vec<Entry>,
    skipped: &mut Vec<Skipped>,
) {
    let dir = root.join(rel);
    let in_virtual_fs = std::cell::RefCell::new(Vec::new());
    let walk = walkdir::WalkDir::new(&dir)
        .follow_links(true)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if is_hidden(e.file_name()) {
                return false;
            }
            // A link to a folder can lead out of the dataset (what lies under it is checked
            // at the link, so this costs one lookup per link, not one per folder: a
            // canonicalisation per folder is cubic in a 2000-deep tree); files behind links
            // are read (and refused) like any other.
            if e.path_is_symlink() && e.file_type().is_dir() {
                if let Some(fs) = virtual_fs(e.path()) {
                    in_virtual_fs.borrow_mut().push(Skipped {
                        path: e.path().to_path_buf(),
                        reason: format!("leads into {fs}, a virtual file system: not followed"),
                    });
                    return false;
                }
            }
            true
        });
    for item in walk {
        match item {
            Ok(d) => {
                let ft = d.file_type();
                if ft.is_dir() {
                    continue;
                }
                let path = d.into_path();
                if !ft.is_file() {
                    skipped.push(Skipped {
                        path,
                        reason: "not a regular file (pipe, socket or device)".into(),
                    });
                    continue;
                }
                match path.strip_prefix(root) {
                    Ok(r) if breaks_lists(r) => skipped.push(name_breaks_lists(path)),
                    Ok(r) => entries.push(Entry {
                        rel: r.to_path_buf(),
                        class: folder,
                    }),
                    Err(_) => skipped.push(Skipped {
                        path,
                        reason: "outside the dataset folder".into(),
                    }),
                }
            }
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or(dir.clone());
                let reason = if let Some(a) = e.loop_ancestor() {
                    format!(
                        "symbolic link loop (points back to {}): not followed",
                        a.display()
                    )
                } else if path.is_symlink() && !path.exists() {
                    "broken symbolic link".to_string()
                } else {
                    match e.io_error() {
                        Some(io) => format!("cannot read: {io}"),
                        None => format!("cannot read: {e}"),
                    }
                };
                skipped.push(Skipped { path, reason });
            }
        }
    }
    skipped.extend(in_virtual_fs.into_inner());
}

/// The format of a file, from its first bytes (TGA, which has no signature, by extension).
fn sniff(head: &[u8], path: &Path) -> std::result::Result<ImageFormat, String> {
    if head.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let brands = iso_brands(head);
    let has = |set: &[&[u8; 4]]| brands.iter().any(|b| set.contains(&b));
    if has(&[b"avif", b"avis"]) {
        return Err(
            "AVIF image: not supported (the image library decodes AVIF only with a \
             native library); convert it to JPEG or PNG"
                .into(),
        );
    }
    if has(&[
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
    ]) {
        return Err(
            "HEIC/HEIF photo (a phone camera's format) is not supported: convert it \
             to JPEG or PNG (e.g. `heif-convert`, or the phone's \"Most Compatible\" setting)"
                .into(),
        );
    }
    match image::guess_format(head) {
        Ok(f) => Ok(f),
        Err(_) => match ImageFormat::from_path(path) {
            Ok(ImageFormat::Tga) => Ok(ImageFormat::Tga),
            _ => Err("not an image: the content matches no known image format".into()),
        },
    }
}

/// The brands of an ISO media file's leading `ftyp` box (HEIF, AVIF, MP4): its major brand
/// and the compatible ones within the box and the bytes read; none for other files.
fn iso_brands(head: &[u8]) -> Vec<[u8; 4]> {
    if head.len() < 12 || &head[4..8] != b"ftyp" {
        return Vec::new();
    }
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = size.clamp(12, head.len());
    let mut brands = vec![[head[8], head[9], head[10], head[11]]];
    // After the major brand, a 4-byte minor version, then the compatible brands.
    brands.extend(
        head.get(16..end)
            .unwrap_or(&[])
            .chunks_exact(4)
            .map(|b| [b[0], b[1], b[2], b[3]]),
    );
    brands
}

fn format_name(f: ImageFormat) -> String {
    format!("{f:?}").to_uppercase()
}

/// Limits for reading headers: allocations only, so that a too-large size is reported by
/// [`check_size`] in words, with the size.
fn header_limits() -> Limits {
    let mut l = Limits::no_limits();
    l.max_alloc = Some(MAX_DECODED_BYTES);
    l
}

/// Limits for decoding: size and allocations.
fn decode_limits() -> Limits {
    let mut l = header_limits();
    l.max_image_width = Some(MAX_IMAGE_SIDE);
    l.max_image_height = Some(MAX_IMAGE_SIDE);
    l
}

/// Make a decoder for `reader`, its header read and its size checked.
fn open_decoder<'a, R: std::io::BufRead + std::io::Seek + 'a>(
    reader: R,
    format: ImageFormat,
) -> std::result::Result<(impl ImageDecoder + 'a, (u32, u32)), String> {
    let mut r = ImageReader::with_format(reader, format);
    r.limits(header_limits());
    let mut dec = r.into_decoder().map_err(|e| describe(format, e))?;
    let size = check_size(&dec)?;
    dec.set_limits(decode_limits())
        .map_err(|e| describe(format, e))?;
    Ok((dec, size))
}

/// Refuse an image whose header claims a size that would need an absurd buffer.
fn check_size<D: ImageDecoder>(dec: &D) -> std::result::Result<(u32, u32), String> {
    let (w, h) = dec.dimensions();
    if w == 0 || h == 0 {
        return Err(format!("the header claims a {w}x{h} image (no pixels)"));
    }
    let bytes = dec.total_bytes();
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || bytes > MAX_DECODED_BYTES {
        return Err(format!(
            "image too large: the header claims {w}x{h} pixels ({} MiB decoded); the limit is \
             {MAX_IMAGE_SIDE} pixels a side and {} MiB",
            bytes >> 20,
            MAX_DECODED_BYTES >> 20
        ));
    }
    Ok((w, h))
}

/// Why a decoder failed, in words.
fn describe(format: ImageFormat, e: ImageError) -> String {
    let f = format_name(format);
    let m = e.to_string();
    let m = m.trim_end();
    match e {
        ImageError::Decoding(_) => format!("corrupt or truncated {f}: {m}"),
        ImageError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated {f}: the file ends early ({m})")
        }
        ImageError::IoError(_) => format!("cannot read {f}: {m}"),
        ImageError::Limits(_) => format!("image too large: {m}"),
        ImageError::Unsupported(_) => format!("unsupported {f} image: {m}"),
        _ => format!("cannot decode {f}: {m}"),
    }
}

/// Read a file's header only: its size and whether it is gray.
pub(super) fn read_header(path: &Path) -> std::result::Result<Header, String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut reader = BufReader::with_capacity(8 * 1024, file);
    let head = reader.fill_buf().map_err(|e| format!("cannot read: {e}"))?;
    let format = sniff(head, path)?;
    let (mut dec, (width, height)) = open_decoder(reader, format)?;
    let (width, height) = upright_size(orientation(&mut dec), width, height);
    Ok(Header {
        height,
        width,
        gray: !dec.color_type().has_color(),
    })
}

/// The orientation a file's EXIF data gives (JPEG, PNG, WebP and TIFF carry one): a camera
/// stores a portrait photo sideways and tags it, and viewers (and FiftyOne's app, and PIL's
/// `ImageOps.exif_transpose`) turn it upright. A missing or unreadable tag counts as upright:
/// the pixels are still good.
pub fn orientation(dec: &mut impl ImageDecoder) -> Orientation {
    dec.orientation().unwrap_or(Orientation::NoTransforms)
}

/// The `(width, height)` of a `width x height` image once `o` is applied.
pub fn upright_size(o: Orientation, width: u32, height: u32) -> (u32, u32) {
    match o {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (height, width),
        _ => (width, height),
    }
}

/// Decode an image and turn it upright as its EXIF orientation says ([`orientation`]): what
/// the loader, the backbone's input and the window's detail view all see.
pub fn decode_upright(mut dec: impl ImageDecoder) -> image::ImageResult<DynamicImage> {
    let o = orientation(&mut dec);
    let mut img = DynamicImage::from_decoder(dec)?;
    img.apply_orientation(o);
    Ok(img)
}

/// Decode the file at `path` upright ([`decode_upright`]), with the loader's size limits and
/// its words for what is wrong with a file (for a viewer: no conversion, no resize).
pub fn open_upright(path: &Path) -> std::result::Result<DynamicImage, String> {
    guarded(|| {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
        let format = sniff(&bytes, path)?;
        let (dec, _) = open_decoder(Cursor::new(&bytes[..]), format)?;
        decode_upright(dec).map_err(|e| describe(format, e))
    })
}

/// Whether a JPEG's last scan is followed by its end-of-image marker: a truncated file lacks
/// it (the decoder would fill the missing part with gray instead of failing).
pub(crate) fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos + 2..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Run a decoding step, turning a decoder panic on a hostile file into a skip reason.
pub(super) fn guarded<T>(
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("the image decoder failed on this file (internal panic)".into()))
}

/// Decode one file, convert it to `shape` (gray or RGB, alpha dropped, 16-bit scaled to 8) and
/// write it into `out` (`shape.len()` bytes); what the file was comes back.
pub(super) fn decode_into(
    path: &Path,
    shape: ImageShape,
    out: &mut [u8],
    file_stats: bool,
) -> std::result::Result<Original, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let format = sniff(&bytes, path)?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(&bytes) {
        return Err("truncated JPEG: the data ends before the end-of-image marker".into());
    }
    let (mut dec, (w, h)) = open_decoder(Cursor::new(&bytes[..]), format)?;
    let o = orientation(&mut dec);
    // A camera's JPEG (its header says so) at a reduced DCT scale that keeps what the checks
    // and the model's shape need ([`draft_short_side`]); every other file in full. Complete:
    // checked above.
    let draft = match format {
        ImageFormat::Jpeg if super::draft::is_large(w, h) => {
            super::draft::decode_complete(&bytes, draft_short_side(shape))
        }
        _ => None,
    };
    let mut img = match draft {
        Some((img, _)) => {
            drop(dec);
            img
        }
        None => DynamicImage::from_decoder(dec).map_err(|e| describe(format, e))?,
    };
    // The file's bytes go before a quarter turn makes a second full-size buffer.
    drop(bytes);
    img.apply_orientation(o);
    let turned = o != Orientation::NoTransforms;
    let grey = !img.color().has_color();
    // The file's own size, whatever scale it was decoded at.
    let (width, height) = upright_size(o, w, h);
    let own = width as usize == shape.width
        && height as usize == shape.height
        && (shape.channels == 1) == grey;
    let original = Original {
        width,
        height,
        grey,
        turned,
        stats: (file_stats && !own).then(|| PixelStats::of_image(&img)),
    };
    convert_into(img, shape, out);
    Ok(original)
}

/// The shorter side a JPEG of a camera's size keeps when the loader decodes it at a reduced
/// DCT scale ([`super::draft`]): twice the model's longer side, and at least
/// [`CHECK_SHORT_SIDE`] for the image checks.
fn draft_short_side(shape: ImageShape) -> u32 {
    (2 * shape.height.max(shape.width)).max(CHECK_SHORT_SIDE as usize) as u32
}

/// The shorter side the image checks read a large photo at, at least: its brightness
/// percentiles and histograms over some 400 000 pixels or more, its blur check at 64 pixels
/// and its perceptual hash at 32.
pub const CHECK_SHORT_SIDE: u32 = 512;

/// Bring a decoded image to `shape`: channel conversion on the side with fewer channels, resize
/// with a triangle filter (as `Dataset::conform_to` does), after a box reduction where it
/// shrinks 8 times or more ([`super::reduce`]).
fn convert_into(img: DynamicImage, shape: ImageShape, out: &mut [u8]) {
    let (w, h) = (shape.width as u32, shape.height as u32);
    let img = super::reduce::reduce_for_resize(&img, (w, h)).unwrap_or(img);
    if shape.channels == 1 || !img.color().has_color() {
        let mut g = img.into_luma8();
        if g.dimensions() != (w, h) {
            g = imageops::resize(&g, w, h, FilterType::Triangle);
        }
        if shape.channels == 1 {
            out.copy_from_slice(g.as_raw());
        } else {
            for (o, &v) in out.chunks_exact_mut(3).zip(g.as_raw()) {
                o.fill(v);
            }
        }
    } else {
        let mut c = img.into_rgb8();
        if c.dimensions() != (w, h) {
            c = imageops::resize(&c, w, h, FilterType::Triangle);
        }
        out.copy_from_slice(c.as_raw());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_end_marker() {
        assert!(jpeg_is_complete(&[
            0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0xD9
        ]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xDA, 1, 2]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 1]));
    }

    #[test]
    fn ids_use_slashes() {
        assert_eq!(id_of(Path::new("train/cat/a.png")), "train/cat/a.png");
    }
}
