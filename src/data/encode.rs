//! How samples become files of an image folder: class folder names that every file system
//! accepts, and PNG bytes of a sample (the corrupted copies and the clean copies of IDX / CIFAR
//! sets are written so).

use super::ImageShape;

/// A class name made safe as a folder name: path separators, reserved and control characters
/// become '_', surrounding spaces and trailing dots go, a leading '.' gets a '_' before it.
pub fn folder_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let s = s.trim().trim_end_matches('.').trim_end();
    if s.is_empty() {
        "class".into()
    } else if s.starts_with('.') {
        format!("_{s}")
    } else {
        s.to_string()
    }
}

/// Folder names for classes: [`folder_name`], made unique (ignoring case, for case-insensitive
/// file systems) by appending `_2`, `_3`, ...
pub fn folder_names(classes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(classes.len());
    for c in classes {
        let base = folder_name(c);
        let mut name = base.clone();
        let mut n = 2;
        while out.iter().any(|o| o.to_lowercase() == name.to_lowercase()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        out.push(name);
    }
    out
}

/// PNG bytes of an H x W x C (1 or 3) image, best compression.
pub fn encode_png(pixels: &[u8], shape: ImageShape) -> std::result::Result<Vec<u8>, String> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::{ExtendedColorType, ImageEncoder};
    let color = match shape.channels {
        1 => ExtendedColorType::L8,
        3 => ExtendedColorType::Rgb8,
        c => return Err(format!("{c} channels cannot be written as PNG")),
    };
    let mut buf = Vec::new();
    PngEncoder::new_with_quality(&mut buf, CompressionType::Best, FilterType::Adaptive)
        .write_image(pixels, shape.width as u32, shape.height as u32, color)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}
