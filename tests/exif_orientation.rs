//! A camera stores a portrait photo sideways and tags it with an EXIF orientation; every view
//! of the sample (the loader's pixels, the backbone's input, the window's detail image) must
//! show it upright, as viewers, FiftyOne's app and PIL's `exif_transpose` do.

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GrayImage, ImageEncoder, Luma};
use itlm_inspector::data::{image_folder, LoadOptions};
use itlm_inspector::learner::backbone::load_image;
use itlm_inspector::session::embed_cache::{cache_key, EmbedSpec};

/// The upright picture: 20 wide, 40 tall, its top-left quadrant white, the rest black.
fn upright() -> GrayImage {
    GrayImage::from_fn(20, 40, |x, y| {
        Luma([if x < 10 && y < 20 { 255 } else { 0 }])
    })
}

/// A little-endian EXIF block (TIFF header and one IFD entry) with orientation `o`.
fn exif(o: u16) -> Vec<u8> {
    let mut b = vec![0x49, 0x49, 0x2A, 0x00, 0x08, 0, 0, 0, 0x01, 0x00];
    b.extend_from_slice(&[0x12, 0x01, 0x03, 0x00, 0x01, 0, 0, 0]);
    b.extend_from_slice(&o.to_le_bytes());
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    b
}

/// Write `img` as a JPEG carrying EXIF orientation `o` (none when `o` is 0).
fn write_jpeg(path: &Path, img: &GrayImage, o: u16) {
    let mut bytes = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut bytes, 95);
    if o != 0 {
        enc.set_exif_metadata(exif(o)).unwrap();
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::L8,
    )
    .unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The stored (sideways or mirrored) pixels whose EXIF orientation `o` shows [`upright`].
fn stored(o: u16) -> GrayImage {
    let u = DynamicImage::ImageLuma8(upright());
    match o {
        0 | 1 => u,
        2 => u.fliph(),
        3 => u.rotate180(),
        4 => u.flipv(),
        // 5 (transpose) and 7 (transverse) are their own inverses.
        5 => u.rotate90().fliph(),
        7 => u.rotate270().fliph(),
        // 6: shown turned 90 degrees clockwise, so stored turned the other way.
        6 => u.rotate270(),
        8 => u.rotate90(),
        _ => unreachable!(),
    }
    .into_luma8()
}

/// Mean of each quadrant of a `w x h` grey image: top-left, top-right, bottom-left,
/// bottom-right.
fn quadrants(px: &[u8], w: usize, h: usize) -> [f64; 4] {
    let mut sum = [0.0; 4];
    let mut n = [0.0; 4];
    for y in 0..h {
        for x in 0..w {
            let q = (y >= h / 2) as usize * 2 + (x >= w / 2) as usize;
            sum[q] += px[y * w + x] as f64;
            n[q] += 1.0;
        }
    }
    std::array::from_fn(|q| sum[q] / n[q])
}

fn assert_upright(what: &str, px: &[u8], w: usize, h: usize) {
    assert_eq!((w, h), (20, 40), "{what}: size");
    let q = quadrants(px, w, h);
    assert!(
        q[0] > 200.0 && q[1] < 60.0 && q[2] < 60.0 && q[3] < 60.0,
        "{what}: quadrant means {q:?}"
    );
}

/// Orientations written: none, 1 (upright, tagged), and every other EXIF orientation: 2 and 4
/// mirrored, 3 turned half way, 6 and 8 a quarter, 5 and 7 a quarter and mirrored.
const ORIENTATIONS: [u16; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

fn make_set(root: &Path) {
    for class in ["a", "b"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for o in ORIENTATIONS {
            write_jpeg(&root.join(class).join(format!("o{o}.jpg")), &stored(o), o);
        }
    }
}

#[test]
fn a_camera_s_sideways_photo_is_upright_in_every_view() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    make_set(&root);
    // The stored files really are sideways: without the tag, 6 and 8 read 40 x 20.
    let raw = image::open(root.join("a/o6.jpg")).unwrap();
    assert_eq!((raw.width(), raw.height()), (40, 20));

    let d = image_folder::load(&root, &LoadOptions::default()).unwrap();
    assert_eq!(d.len(), 18);
    // Every file is 20 x 40 upright, so that is the set's shape (no resize of any of them).
    assert_eq!(
        (d.shape.width, d.shape.height, d.shape.channels),
        (20, 40, 1)
    );
    for i in 0..d.len() {
        let id = d.id(i);
        assert_upright(&format!("loaded {id}"), d.image(i), 20, 40);
        let o = d.originals()[i];
        assert_eq!((o.width, o.height), (20, 40), "{id}");
        let turned = !(id.ends_with("o0.jpg") || id.ends_with("o1.jpg"));
        assert_eq!(o.turned, turned, "{id}");
    }

    // A phone's folder, most photos stored sideways: the set's shape is still the upright one
    // (read from the headers before decoding).
    let phone = t.path().join("phone");
    for class in ["a", "b"] {
        std::fs::create_dir_all(phone.join(class)).unwrap();
        for o in [6, 8, 0] {
            write_jpeg(&phone.join(class).join(format!("o{o}.jpg")), &stored(o), o);
        }
    }
    let p = image_folder::load(&phone, &LoadOptions::default()).unwrap();
    assert_eq!((p.shape.width, p.shape.height), (20, 40));
    for i in 0..p.len() {
        assert_upright(&format!("phone {}", p.id(i)), p.image(i), 20, 40);
    }

    for o in ORIENTATIONS {
        let path = root.join(format!("b/o{o}.jpg"));
        // The backbone's input.
        let img = load_image(&path).unwrap().into_luma8();
        assert_upright(
            &format!("backbone o{o}"),
            img.as_raw(),
            img.width() as usize,
            img.height() as usize,
        );
        // The window's detail view.
        let img = image_folder::open_upright(&path).unwrap().into_luma8();
        assert_upright(
            &format!("detail o{o}"),
            img.as_raw(),
            img.width() as usize,
            img.height() as usize,
        );
    }
}

#[test]
fn embeddings_of_turned_files_get_a_new_cache_key() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    make_set(&root);
    let spec = EmbedSpec {
        backbone: "efficientnet-lite0".into(),
        weights: "w".into(),
        resolution: 224,
        dim: 1280,
    };
    let d = image_folder::load(&root, &LoadOptions::default()).unwrap();
    let key = cache_key(&d, &spec).unwrap();
    // The key the same files had before orientations were applied (no file turned).
    let unturned: Vec<_> = d
        .originals()
        .iter()
        .map(|o| itlm_inspector::data::Original {
            turned: false,
            ..*o
        })
        .collect();
    let before = cache_key(&d.clone().with_originals(unturned).unwrap(), &spec).unwrap();
    assert_ne!(
        key, before,
        "embeddings of sideways images must not be reused"
    );

    // A file whose tag says upright (1) is not turned, and only the turned files count.
    let tagged_upright: Vec<_> = d
        .originals()
        .iter()
        .enumerate()
        .map(|(i, o)| itlm_inspector::data::Original {
            turned: o.turned && !d.id(i).ends_with("o6.jpg"),
            ..*o
        })
        .collect();
    let partly = cache_key(&d.clone().with_originals(tagged_upright).unwrap(), &spec).unwrap();
    assert!(partly != key && partly != before);
}
