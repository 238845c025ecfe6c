//! Reading a run file of any version: the header, the length and checksum, the body decoded
//! with today's layout or an earlier build's ([`super::legacy`]), and the run's consistency.
//! Never panics: a file that is not a run file, of another version, truncated, extended,
//! altered or internally inconsistent gives an error that says which.

use std::path::{Path, PathBuf};

use super::legacy::{
    self, ConfigFlagTransition, ConfigNoAugment, ConfigNoClusters, ConfigNoCoteach, ConfigNoPseudo,
    ConfigNoSmoothing, ConfigNoTauFromData, ConfigNoTransition, RoundExtrasV10, RoundExtrasV15,
    RoundExtrasV17, RoundExtrasV8, RoundExtrasV9,
};
use super::run_file::{
    absolute_source, decode_whole, DatasetInfo, RoundExtras, RunFile, RunFileOf, HEADER_LEN,
    RUN_MAGIC, RUN_VERSION,
};
use crate::data::Source;
use crate::error::{Error, Result};
use crate::itlm::Config;

/// A body of version 8 or later: the run with its config in layout `C`, the evaluation sets'
/// sources, then one `X` (that version's [`RoundExtras`]) per round, exactly; from version 20
/// on the labels CSV columns after them (version 20 without the images folder).
fn decode_with_extras<C, X>(
    version: u32,
    body: &[u8],
    config: impl FnOnce(C) -> Config,
) -> std::result::Result<RunFile, String>
where
    C: serde::de::DeserializeOwned,
    X: serde::de::DeserializeOwned + Into<RoundExtras>,
{
    let e = |e: postcard::Error| e.to_string();
    let (run, rest) = postcard::take_from_bytes::<RunFileOf<C>>(body).map_err(e)?;
    let mut run = run.map_config(config);
    let (sources, rest) = postcard::take_from_bytes::<Vec<Source>>(rest).map_err(e)?;
    run.dataset.eval_sources = sources;
    let extras = if version >= 20 {
        let (extras, rest) = postcard::take_from_bytes::<Vec<X>>(rest).map_err(e)?;
        run.dataset.columns = if version >= 21 {
            decode_whole(rest)?
        } else {
            decode_whole::<super::legacy::ColumnsV20>(rest)?.into()
        };
        extras
    } else {
        decode_whole::<Vec<X>>(rest)?
    };
    run.set_round_extras(extras.into_iter().map(Into::into).collect())?;
    Ok(run)
}

impl RunFile {
    /// Decode a run file's bytes (`path` only names the file in errors). Never panics: a file
    /// that is not a run file, of another version, truncated, extended, altered or internally
    /// inconsistent gives an error that says which.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let damaged = |m: String| Error::data(path, format!("damaged run file: {m}"));
        if bytes.len() < RUN_MAGIC.len() || &bytes[..RUN_MAGIC.len()] != RUN_MAGIC {
            return Err(Error::data(path, "not an itlm-inspector run file"));
        }
        let Some(version) = bytes.get(8..12).and_then(|b| b.try_into().ok()) else {
            return Err(damaged("the file ends inside its header".into()));
        };
        let version = u32::from_le_bytes(version);
        let run: RunFile = match version {
            1 => legacy::decode(&bytes[12..]).map_err(damaged)?,
            2 => legacy::decode(Self::checked_body(bytes, version).map_err(damaged)?)
                .map_err(damaged)?,
            3 => legacy::decode_v3(Self::checked_body(bytes, version).map_err(damaged)?)
                .map_err(damaged)?,
            4..=6 => {
                let body = Self::checked_body(bytes, version).map_err(damaged)?;
                let (mut run, rest) = legacy::take_v4_to_v6(version, body).map_err(damaged)?;
                run.dataset.eval_sources = if version == 4 {
                    decode_whole::<()>(rest).map_err(damaged)?;
                    Vec::new()
                } else {
                    decode_whole::<Vec<Source>>(rest).map_err(damaged)?
                };
                run
            }
            7 => {
                let body = Self::checked_body(bytes, version).map_err(damaged)?;
                let (mut run, rest) = legacy::take_v7(body).map_err(damaged)?;
                run.dataset.eval_sources = decode_whole::<Vec<Source>>(rest).map_err(damaged)?;
                run
            }
            8 => decode_with_extras::<ConfigNoClusters, RoundExtrasV8>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            9 => decode_with_extras::<ConfigNoTransition, RoundExtrasV9>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            10 => decode_with_extras::<ConfigNoTransition, RoundExtrasV10>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            11 => decode_with_extras::<ConfigFlagTransition, RoundExtrasV15>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            12 => decode_with_extras::<ConfigNoCoteach, RoundExtrasV15>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            13 => decode_with_extras::<ConfigNoPseudo, RoundExtrasV15>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            14 => decode_with_extras::<ConfigNoAugment, RoundExtrasV15>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            15 => decode_with_extras::<ConfigNoTauFromData, RoundExtrasV15>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            16 => decode_with_extras::<ConfigNoTauFromData, RoundExtrasV17>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            17 => decode_with_extras::<ConfigNoSmoothing, RoundExtrasV17>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            18 => decode_with_extras::<ConfigNoSmoothing, RoundExtras>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                Config::from,
            )
            .map_err(damaged)?,
            19..=RUN_VERSION => decode_with_extras::<Config, RoundExtras>(
                version,
                Self::checked_body(bytes, version).map_err(damaged)?,
                |c| c,
            )
            .map_err(damaged)?,
            _ => {
                let newer = if version > RUN_VERSION {
                    " (written by a newer itlm-inspector)"
                } else {
                    ""
                };
                return Err(Error::data(
                    path,
                    format!(
                        "run file version {version}; this build reads versions 1 to {RUN_VERSION}{newer}"
                    ),
                ));
            }
        };
        run.check().map_err(damaged)?;
        Ok(run)
    }

    /// The body of a version-2 or later file, after checking its length and checksum.
    fn checked_body(bytes: &[u8], version: u32) -> std::result::Result<&[u8], String> {
        let (Some(len), Some(crc)) = (
            bytes.get(12..20).and_then(|b| b.try_into().ok()),
            bytes.get(20..HEADER_LEN).and_then(|b| b.try_into().ok()),
        ) else {
            return Err("the file ends inside its header".into());
        };
        let (len, crc) = (u64::from_le_bytes(len), u32::from_le_bytes(crc));
        let body = &bytes[HEADER_LEN..];
        let have = body.len() as u64;
        if have < len {
            return Err(format!("truncated: the body has {have} of its {len} bytes"));
        }
        if have > len {
            return Err(format!(
                "{} unexpected bytes after the {len}-byte body",
                have - len
            ));
        }
        let actual = super::run_file::checksum(version, body);
        if actual != crc {
            return Err(format!(
                "checksum mismatch (stored {crc:08x}, computed {actual:08x}): the file was altered or corrupted"
            ));
        }
        Ok(body)
    }

    pub fn read(path: &Path) -> Result<Self> {
        if path.is_dir() {
            let inside = path.join(super::files::RUN_FILE);
            return Err(Error::data(
                path,
                if inside.is_file() {
                    format!("is a folder; the run file is {}", inside.display())
                } else {
                    "is a folder; give a run file (run.itlm)".to_string()
                },
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut run = Self::from_bytes(path, &bytes)?;
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        run.dataset
            .locate_relative(&super::paths::resolve_path(folder));
        Ok(run)
    }
}

impl DatasetInfo {
    /// Make the relative dataset paths of a run file written by an earlier build (which
    /// stored them as typed, relative to where `run` was started) absolute: the first of the
    /// run file's `folder` and the folders above it where the dataset is found (the training
    /// set's first sample there), else the working directory when it is found there, else
    /// `folder`. Absolute paths are only made canonical. Then every path is what the dataset
    /// guard and the clean copy use, whatever the working directory.
    pub fn locate_relative(&mut self, folder: &Path) {
        let first_id = self.ids.first().cloned();
        let train = locate(&self.source, folder, first_id.as_deref());
        self.source = train;
        for s in &mut self.eval_sources {
            *s = locate(s, folder, None);
        }
    }
}

/// `s` resolved as [`DatasetInfo::locate_relative`] says.
fn locate(s: &Source, folder: &Path, first_id: Option<&str>) -> Source {
    let (rel, make): (&Path, fn(PathBuf) -> Source) = match s {
        Source::ImageFolder { root } => (root.as_path(), |root| Source::ImageFolder { root }),
        Source::Idx { images } => (images.as_path(), |images| Source::Idx { images }),
        Source::Cifar { dir } => (dir.as_path(), |dir| Source::Cifar { dir }),
        Source::LabelsCsv { file } => (file.as_path(), |file| Source::LabelsCsv { file }),
        Source::Memory => return Source::Memory,
    };
    if rel.is_absolute() {
        return absolute_source(s);
    }
    let found = |p: &Path| match (s, first_id) {
        // A lossy id (a name that is not UTF-8) cannot be joined: the folder must do.
        (Source::ImageFolder { .. }, Some(id)) if !id.contains('\u{FFFD}') => p.join(id).exists(),
        _ => p.exists(),
    };
    let candidate = folder
        .ancestors()
        .map(|a| a.join(rel))
        .find(|p| found(p.as_path()))
        .or_else(|| Some(rel.to_path_buf()).filter(|p| found(p.as_path())))
        .unwrap_or_else(|| folder.join(rel));
    absolute_source(&make(candidate))
}
