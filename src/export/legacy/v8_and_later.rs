//! Run file versions 8 and later (8 to 18; the layout a version bump retires goes here too): the
//! config of each, grown by a field or two a version (today's [`Config`] but the fields added
//! since), the co-teaching settings before pseudo-labels and before label smoothing, and what
//! each stored of every round after the body (the round extras).

use serde::{Deserialize, Serialize};

use super::ConfigNoRelabel;
use crate::export::run_file::RoundExtras;
use crate::itlm::{Augment, CoTeach, Config, Forward};

/// `Config` of version 8: versions 6 and 7's fields, then `relabel`; before
/// [`Config::clusters`] (runs did not cut by clusters). Postcard writes a nested struct's
/// fields in place, so this is byte for byte the flat layout version 8 wrote.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoClusters {
    pub before: ConfigNoRelabel,
    pub relabel: bool,
}

impl From<ConfigNoClusters> for Config {
    fn from(c: ConfigNoClusters) -> Self {
        Config {
            relabel: c.relabel,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoClusters {
    /// Today's config in the layout of version 8, `clusters` dropped (for tests and fixtures).
    fn from(c: &Config) -> Self {
        ConfigNoClusters {
            before: c.into(),
            relabel: c.relabel,
        }
    }
}

/// The labels CSV columns of run files of version 20: no images folder (the CSV's own).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnsV20 {
    pub path: Option<String>,
    pub label: Option<String>,
}

impl From<ColumnsV20> for crate::data::labels_csv::Columns {
    fn from(c: ColumnsV20) -> Self {
        Self {
            path: c.path,
            label: c.label,
            images: None,
        }
    }
}

/// What a version-8 file stores of each round after the body: the relabelled samples and
/// their quality (no clustering cut).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV8 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
}

impl From<RoundExtrasV8> for RoundExtras {
    fn from(x: RoundExtrasV8) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            ..Default::default()
        }
    }
}

/// What a version-9 file stores of each round after the body: no spectral scores.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV9 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
    pub held_out: Vec<bool>,
    pub clusters: Option<crate::itlm::ClusterReport>,
}

impl From<RoundExtrasV9> for RoundExtras {
    fn from(x: RoundExtrasV9) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: Vec::new(),
            transition: Vec::new(),
            estimated: None,
            unfolded: Vec::new(),
            unfolded_flips: Vec::new(),
        }
    }
}

/// What a version-10 file stores of each round after the body: no transition matrix.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV10 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
    pub held_out: Vec<bool>,
    pub clusters: Option<crate::itlm::ClusterReport>,
    pub spectral: Vec<f32>,
}

impl From<RoundExtrasV10> for RoundExtras {
    fn from(x: RoundExtrasV10) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: x.spectral,
            transition: Vec::new(),
            estimated: None,
            unfolded: Vec::new(),
            unfolded_flips: Vec::new(),
        }
    }
}

/// `Config` of versions 9 and 10: version 8's fields, then `clusters`; before
/// [`Config::transition`] (runs did not forward-correct).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoTransition {
    pub before: ConfigNoClusters,
    pub clusters: bool,
}

impl From<ConfigNoTransition> for Config {
    fn from(c: ConfigNoTransition) -> Self {
        Config {
            clusters: c.clusters,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoTransition {
    /// Today's config in the layout of versions 9 and 10, `transition` dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoTransition {
            before: c.into(),
            clusters: c.clusters,
        }
    }
}

/// `Config` of version 11: versions 9 and 10's fields, then `transition` as a flag (before
/// [`Forward::Auto`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigFlagTransition {
    pub before: ConfigNoTransition,
    pub transition: bool,
}

impl From<ConfigFlagTransition> for Config {
    fn from(c: ConfigFlagTransition) -> Self {
        Config {
            transition: if c.transition {
                Forward::On
            } else {
                Forward::Off
            },
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigFlagTransition {
    /// Today's config in the layout of version 11 (for tests): `Auto` stored as the flag it
    /// came to in the run, off.
    fn from(c: &Config) -> Self {
        ConfigFlagTransition {
            before: c.into(),
            transition: c.transition == Forward::On,
        }
    }
}

/// `Config` of version 12: version 11's fields, then `transition` as a mode; before
/// [`Config::coteach`] (runs were ITLM's rounds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoCoteach {
    pub before: ConfigNoTransition,
    pub transition: Forward,
}

impl From<ConfigNoCoteach> for Config {
    fn from(c: ConfigNoCoteach) -> Self {
        Config {
            transition: c.transition,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoCoteach {
    /// Today's config in the layout of version 12, `coteach` dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoCoteach {
            before: c.into(),
            transition: c.transition,
        }
    }
}

/// [`CoTeach`] of version 13: before pseudo-labels ([`CoTeach::pseudo`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct CoTeachNoPseudo {
    pub epochs: usize,
    pub ramp: usize,
}

/// `Config` of version 13: version 12's fields, then `coteach` without pseudo-labels (such
/// runs trained without them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoPseudo {
    pub before: ConfigNoCoteach,
    pub coteach: Option<CoTeachNoPseudo>,
}

impl From<ConfigNoPseudo> for Config {
    fn from(c: ConfigNoPseudo) -> Self {
        Config {
            coteach: c.coteach.map(|ct| {
                CoTeach::from(CoTeachNoSmoothing {
                    epochs: ct.epochs,
                    ramp: ct.ramp,
                    pseudo: None,
                })
            }),
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoPseudo {
    /// Today's config in the layout of version 13, pseudo-labels dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoPseudo {
            before: c.into(),
            coteach: c.coteach.map(|ct| CoTeachNoPseudo {
                epochs: ct.epochs,
                ramp: ct.ramp,
            }),
        }
    }
}

/// [`CoTeach`] of versions 14 to 18: with pseudo-labels, before label smoothing
/// ([`CoTeach::smoothing`]; such runs trained on plain cross-entropy).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct CoTeachNoSmoothing {
    pub epochs: usize,
    pub ramp: usize,
    pub pseudo: Option<f64>,
}

impl From<CoTeachNoSmoothing> for CoTeach {
    fn from(ct: CoTeachNoSmoothing) -> Self {
        CoTeach {
            epochs: ct.epochs,
            ramp: ct.ramp,
            pseudo: ct.pseudo,
            smoothing: 0.0,
        }
    }
}

impl From<&CoTeach> for CoTeachNoSmoothing {
    /// Today's co-teaching settings in the layout of versions 14 to 18, smoothing dropped
    /// (for tests).
    fn from(ct: &CoTeach) -> Self {
        CoTeachNoSmoothing {
            epochs: ct.epochs,
            ramp: ct.ramp,
            pseudo: ct.pseudo,
        }
    }
}

/// `Config` of version 14: version 13's layout with pseudo-labels, no augmentation (such runs
/// trained on the images as they are).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoAugment {
    pub before: ConfigNoCoteach,
    pub coteach: Option<CoTeachNoSmoothing>,
}

impl From<ConfigNoAugment> for Config {
    fn from(c: ConfigNoAugment) -> Self {
        Config {
            coteach: c.coteach.map(CoTeach::from),
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoAugment {
    /// Today's config in the layout of version 14, augmentation dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoAugment {
            before: c.into(),
            coteach: c.coteach.as_ref().map(CoTeachNoSmoothing::from),
        }
    }
}

/// `Config` of versions 15 and 16: version 14's layout with augmentation, tau always as set
/// (no run chose it from the data).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoTauFromData {
    pub before: ConfigNoAugment,
    pub augment: Augment,
}

impl From<ConfigNoTauFromData> for Config {
    fn from(c: ConfigNoTauFromData) -> Self {
        Config {
            augment: c.augment,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoTauFromData {
    /// Today's config in the layout of versions 15 and 16, tau from the data dropped (for
    /// tests).
    fn from(c: &Config) -> Self {
        ConfigNoTauFromData {
            before: c.into(),
            augment: c.augment,
        }
    }
}

/// `Config` of versions 17 and 18: version 16's layout, then tau from the data; co-teaching
/// without label smoothing ([`CoTeachNoSmoothing`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoSmoothing {
    pub before: ConfigNoTauFromData,
    pub tau_from_data: bool,
}

impl From<ConfigNoSmoothing> for Config {
    fn from(c: ConfigNoSmoothing) -> Self {
        Config {
            tau_from_data: c.tau_from_data,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoSmoothing {
    /// Today's config in the layout of versions 17 and 18, label smoothing dropped (for
    /// tests).
    fn from(c: &Config) -> Self {
        ConfigNoSmoothing {
            before: c.into(),
            tau_from_data: c.tau_from_data,
        }
    }
}

/// What versions 11 to 15 store of each round after the body: today's [`RoundExtras`] without
/// the classes a forward round's model folded before the round trained again (no build before
/// version 16 trained a round again).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV15 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
    pub held_out: Vec<bool>,
    pub clusters: Option<crate::itlm::ClusterReport>,
    pub spectral: Vec<f32>,
    pub transition: Vec<f32>,
    pub estimated: Option<(f64, f64)>,
}

impl From<RoundExtrasV15> for RoundExtras {
    fn from(x: RoundExtrasV15) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: x.spectral,
            transition: x.transition,
            estimated: x.estimated,
            unfolded: Vec::new(),
            unfolded_flips: Vec::new(),
        }
    }
}

impl RoundExtrasV15 {
    /// What a version-15 file stored of `r` (for tests).
    pub fn of(r: &crate::itlm::RoundRecord) -> Self {
        let x = RoundExtras::of(r);
        RoundExtrasV15 {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: x.spectral,
            transition: x.transition,
            estimated: x.estimated,
        }
    }
}

/// The round extras of versions 16 and 17: today's without the flips the fold check took out
/// (version 18 added them). Postcard writes a struct's fields in order with no framing, so
/// `before` then `unfolded` is the flat layout those versions wrote.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV17 {
    pub before: RoundExtrasV15,
    pub unfolded: Vec<crate::itlm::Starved>,
}

impl From<RoundExtrasV17> for RoundExtras {
    fn from(x: RoundExtrasV17) -> Self {
        RoundExtras {
            unfolded: x.unfolded,
            ..x.before.into()
        }
    }
}

impl RoundExtrasV17 {
    /// What a version-17 file stored of `r` (for tests).
    pub fn of(r: &crate::itlm::RoundRecord) -> Self {
        RoundExtrasV17 {
            before: RoundExtrasV15::of(r),
            unfolded: r.metrics.unfolded.clone(),
        }
    }
}
