//! The run file: written runs read back equal; wrong magic, other versions, truncation,
//! appended bytes, garbage bodies and bit flips give clear errors and never panic.

mod common;

use std::path::Path;

use common::{dataset, FakeLearner};
use itlm_inspector::data::truth::TruthInfo;
use itlm_inspector::export::{
    self, DatasetInfo, Overwrite, RunFile, RunStatus, Verdict, RUN_MAGIC, RUN_VERSION,
};
use itlm_inspector::itlm::{self, Config, Forward, Quiet, Start, TauSchedule};
use itlm_inspector::learner::{LearnerConfig, ModelKind, OptimizerKind};
use itlm_inspector::rng::Rng;

/// A real two-round run of the fake learner on 12 samples, with truth and a verdict.
fn sample_run() -> RunFile {
    let n = 12;
    let data = dataset(n, 3);
    let losses: Vec<f32> = (0..n).map(|i| i as f32 * 0.25).collect();
    let (mut l, _) = FakeLearner::new(losses);
    let config = Config {
        tau: 0.75,
        rounds: 2,
        epochs: 1.0,
        final_epochs: 1,
        schedule: TauSchedule::Constant,
        // What builds before forward correction ran (their files read back as off).
        transition: Forward::Off,
        ..Default::default()
    };
    let bad: Vec<bool> = (0..n).map(|i| i >= 9).collect();
    let mut rounds = Vec::new();
    itlm::run(
        &mut l,
        itlm::Inputs {
            data: &data,
            eval: Default::default(),
            bad: Some(&bad),
            true_labels: None,
            pins: None,
        },
        &config,
        Start::Fresh,
        &mut rounds,
        &mut Quiet,
    )
    .unwrap();
    let kept = rounds[1].kept.clone();
    RunFile {
        config,
        learner: LearnerConfig::default(),
        learner_description: "fake".into(),
        dataset: DatasetInfo::of(&data),
        truth: Some(TruthInfo {
            bad,
            true_label: (0..n).map(|i| Some((i % 3) as u32)).collect(),
            kind: (0..n)
                .map(|i| if i >= 9 { "random" } else { "clean" }.to_string())
                .collect(),
        }),
        rounds,
        status: RunStatus::Finished,
        verdict: Some(Verdict {
            round: 1,
            tau: 0.75,
            kept,
        }),
        elapsed_secs: 1.5,
    }
}

fn decode(bytes: &[u8]) -> Result<RunFile, String> {
    RunFile::from_bytes(Path::new("x.itlm"), bytes).map_err(|e| e.to_string())
}

fn err(bytes: &[u8]) -> String {
    match decode(bytes) {
        Ok(_) => panic!("{} bytes decoded", bytes.len()),
        Err(e) => e,
    }
}

#[test]
fn a_written_run_reads_back_equal() {
    let run = sample_run();
    let bytes = run.to_bytes().unwrap();
    assert_eq!(&bytes[..8], RUN_MAGIC);
    assert_eq!(bytes[8..12], RUN_VERSION.to_le_bytes());
    assert_eq!(decode(&bytes).unwrap(), run);

    // and through the files write_all writes
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let files = export::write_all(&out, &run, Overwrite::Refuse).unwrap();
    assert_eq!(files.len(), export::OUTPUT_FILES.len());
    assert_eq!(RunFile::read(&out.join(export::RUN_FILE)).unwrap(), run);
    // no temp or lock files left behind: the outputs and their manifest
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<&str> = export::OUTPUT_FILES.to_vec();
    want.push(export::MANIFEST);
    want.sort();
    assert_eq!(names, want);
}

/// The body an earlier build wrote for `run` (its config without `folds`, epochs fractional
/// or, earlier still, whole; its learner settings without the optimizer).
fn legacy_body(run: &RunFile, whole_epochs: bool) -> Vec<u8> {
    use itlm_inspector::export::legacy::{ConfigNoFolds, LearnerNoOptimizer};
    let old = ConfigNoFolds::from(&run.config);
    let learner = |l: LearnerConfig| LearnerNoOptimizer::from(&l);
    if whole_epochs {
        let old = old.with_epochs(|e| e as usize);
        postcard::to_allocvec(&run.clone().map(|_| old, learner).with_text_status()).unwrap()
    } else {
        postcard::to_allocvec(&run.clone().map(|_| old, learner).with_text_status()).unwrap()
    }
}

/// A whole run file of `version` (2 or later: with length and checksum) around `body`.
/// The body an earlier build wrote of `run`: its config in that build's layout (`config`),
/// the evaluation sources, and each round's extras in that build's layout (`extras`).
fn old_body<C: serde::Serialize, X: serde::Serialize>(
    run: &RunFile,
    config: impl Fn(&itlm::Config) -> C,
    extras: impl Fn(&itlm::RoundRecord) -> X,
) -> Vec<u8> {
    let old = run.clone().map_config(|c| config(&c));
    let body = postcard::to_allocvec(&old).unwrap();
    let body = postcard::to_extend(&run.dataset.eval_sources, body).unwrap();
    let extras: Vec<X> = run.rounds.iter().map(|r| extras(r)).collect();
    postcard::to_extend(&extras, body).unwrap()
}

fn with_header(version: u32, body: &[u8]) -> Vec<u8> {
    let mut v = RUN_MAGIC.to_vec();
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(&(body.len() as u64).to_le_bytes());
    v.extend_from_slice(&export::checksum(version, body).to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// `run` in the layout of versions 6 and 7: the config without `relabel`.
fn v7_layout(run: &RunFile) -> export::RunFileOf<itlm_inspector::export::legacy::ConfigNoRelabel> {
    run.clone()
        .map_config(|c| itlm_inspector::export::legacy::ConfigNoRelabel::from(&c))
}

/// `run` with round 0 relabelling two trimmed samples, scored against the truth.
fn relabelled_run() -> RunFile {
    let mut run = sample_run();
    run.config.relabel = true;
    let n = run.dataset.len();
    let r = std::sync::Arc::make_mut(&mut run.rounds[0]);
    r.relabelled = vec![None; n];
    r.relabelled[9] = Some(0);
    r.relabelled[11] = Some(2);
    r.metrics.relabel = Some(itlm::RelabelQuality {
        relabelled: 2,
        correct: 1,
        fixable: 3,
        precision: 0.5,
        recall: 1.0 / 3.0,
    });
    run
}

#[test]
fn relabelled_samples_and_their_quality_read_back() {
    let run = relabelled_run();
    let back = decode(&run.to_bytes().unwrap()).unwrap();
    assert_eq!(back, run);
    assert_eq!(back.rounds[0].relabelled_to(9), Some(0));
    assert_eq!(back.rounds[0].relabelled_count(), 2);
    assert!(back.rounds[1].relabelled.is_empty());
    assert!(back.config.relabel);
    assert_eq!(back.rounds[0].metrics.relabel.map(|q| q.correct), Some(1));
}

#[test]
fn version_7_files_read_as_runs_that_did_not_relabel() {
    let mut run = sample_run();
    run.dataset.eval_sources = vec![itlm_inspector::data::Source::ImageFolder {
        root: "/some/test".into(),
    }];
    // A version-7 body: today's without `relabel` and without the round extras.
    let body = postcard::to_allocvec(&v7_layout(&run)).unwrap();
    let v7 = postcard::to_extend(&run.dataset.eval_sources, body).unwrap();
    assert_eq!(decode(&with_header(7, &v7)).unwrap(), run);
    // Under today's version it is refused (the extras are missing), not misread.
    assert!(decode(&with_header(RUN_VERSION, &v7)).is_err());
    // A relabelling run cannot be written in the old layout: it reads as one that did not.
    let relabelled = relabelled_run();
    let body = postcard::to_allocvec(&v7_layout(&relabelled)).unwrap();
    let v7 = postcard::to_extend(&run.dataset.eval_sources, body).unwrap();
    let old = decode(&with_header(7, &v7)).unwrap();
    assert!(!old.config.relabel && old.rounds.iter().all(|r| r.relabelled.is_empty()));
}

#[test]
fn version_6_files_read_with_their_status_as_text() {
    let mut run = sample_run();
    run.dataset.eval_sources = vec![itlm_inspector::data::Source::ImageFolder {
        root: "/some/test".into(),
    }];
    for (text, status) in [
        ("finished", RunStatus::Finished),
        ("stopped", RunStatus::Stopped),
        ("in progress", RunStatus::InProgress),
        (
            "failed: training diverged in round 2: loss NaN",
            RunStatus::Failed("training diverged in round 2: loss NaN".into()),
        ),
    ] {
        run.status = status.clone();
        assert_eq!(run.status.to_string(), text, "Display is the old text");
        let body = postcard::to_allocvec(&v7_layout(&run).with_text_status()).unwrap();
        let v6 = postcard::to_extend(&run.dataset.eval_sources, body).unwrap();
        assert_eq!(decode(&with_header(6, &v6)).unwrap(), run, "{text}");
        // Today's file keeps the status as it is.
        assert_eq!(decode(&run.to_bytes().unwrap()).unwrap().status, status);
    }
    // A version-6 body is refused under today's version, not misread.
    let body = postcard::to_allocvec(&v7_layout(&run).with_text_status()).unwrap();
    let v6 = postcard::to_extend(&run.dataset.eval_sources, body).unwrap();
    assert!(decode(&with_header(RUN_VERSION, &v6)).is_err());
}

#[test]
fn version_4_and_5_files_read_without_restore_and_evaluation_sources() {
    use itlm_inspector::export::legacy::ConfigNoRestore;
    let mut run = sample_run();
    run.dataset.eval_sources = vec![itlm_inspector::data::Source::ImageFolder {
        root: "/some/test".into(),
    }];
    // Today's files keep them.
    assert_eq!(decode(&run.to_bytes().unwrap()).unwrap(), run);
    // A version-5 body is today's with the config of before `restore`; version 4's is that
    // without the sources.
    let old = run
        .clone()
        .map_config(|c| ConfigNoRestore::from(&c))
        .with_text_status();
    let body = postcard::to_allocvec(&old).unwrap();
    let v5 = postcard::to_extend(&run.dataset.eval_sources, body.clone()).unwrap();
    assert_eq!(decode(&with_header(5, &v5)).unwrap(), run);
    run.dataset.eval_sources.clear();
    assert_eq!(decode(&with_header(4, &body)).unwrap(), run);
    assert!(err(&with_header(4, &v5)).contains("bytes left over"));
    // A run that restored keeps that in today's files; the old layouts cannot hold it.
    run.config.restore = true;
    assert_eq!(decode(&run.to_bytes().unwrap()).unwrap(), run);
    assert!(decode(&with_header(5, &v5)).is_ok_and(|r| !r.config.restore));
}

#[test]
fn version_3_files_read_as_constant_rate_adamw_runs() {
    use itlm_inspector::export::legacy::LearnerNoOptimizer;
    let mut run = sample_run();
    run.config.folds = 3;
    assert_eq!(run.learner.optimizer, OptimizerKind::Adamw);
    let body = postcard::to_allocvec(
        &run.clone()
            .map(
                |c| itlm_inspector::export::legacy::ConfigNoRestore::from(&c),
                |l| LearnerNoOptimizer::from(&l),
            )
            .with_text_status(),
    )
    .unwrap();
    assert_eq!(decode(&with_header(3, &body)).unwrap(), run);
    // The same body under today's version is refused, not misread.
    assert!(decode(&with_header(RUN_VERSION, &body)).is_err());
    // And an SGD run with a cosine schedule survives today's format.
    run.learner.optimizer = OptimizerKind::Sgd;
    run.learner.lr = 0.05;
    run.learner.lr_schedule = itlm_inspector::learner::LrSchedule::Cosine;
    assert_eq!(decode(&run.to_bytes().unwrap()).unwrap(), run);
}

#[test]
fn version_1_and_2_files_of_earlier_builds_still_read() {
    let mut run = sample_run();
    assert_eq!(run.config.folds, 1, "old files ran without cross-fitting");
    for whole in [false, true] {
        if !whole {
            run.config.epochs = 0.25; // fractional epochs came before folds
        } else {
            run.config.epochs = 3.0;
        }
        let body = legacy_body(&run, whole);
        let mut v1 = RUN_MAGIC.to_vec();
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&body);
        assert_eq!(decode(&v1).unwrap(), run, "v1, whole epochs {whole}");
        let mut v2 = with_header(2, &body);
        assert_eq!(decode(&v2).unwrap(), run, "v2, whole epochs {whole}");
        // A v2 body is checked like today's.
        let last = v2.len() - 1;
        v2[last] ^= 1;
        assert!(err(&v2).contains("checksum mismatch"));
    }
}

#[test]
fn wrong_magic_and_other_versions() {
    let bytes = sample_run().to_bytes().unwrap();
    for bad in [
        Vec::new(),
        b"ITLM".to_vec(),
        b"PK\x03\x04 a zip file, not a run".to_vec(),
        {
            let mut b = bytes.clone();
            b[0] = b'X';
            b
        },
    ] {
        assert_eq!(err(&bad), "x.itlm: not an itlm-inspector run file");
    }
    let with_version = |v: u32| {
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&v.to_le_bytes());
        b
    };
    let next = RUN_VERSION + 1;
    assert_eq!(
        err(&with_version(next)),
        format!("x.itlm: run file version {next}; this build reads versions 1 to {RUN_VERSION} (written by a newer itlm-inspector)")
    );
    assert_eq!(
        err(&with_version(u32::MAX)),
        format!("x.itlm: run file version {}; this build reads versions 1 to {RUN_VERSION} (written by a newer itlm-inspector)", u32::MAX)
    );
    assert_eq!(
        err(&with_version(0)),
        format!("x.itlm: run file version 0; this build reads versions 1 to {RUN_VERSION}")
    );
}

#[test]
fn every_truncation_is_a_clear_error() {
    let bytes = sample_run().to_bytes().unwrap();
    for len in 0..bytes.len() {
        let e = err(&bytes[..len]);
        if len < 8 {
            assert_eq!(e, "x.itlm: not an itlm-inspector run file", "at {len}");
        } else if len < 24 {
            assert_eq!(
                e, "x.itlm: damaged run file: the file ends inside its header",
                "at {len}"
            );
        } else {
            let body = bytes.len() - 24;
            assert_eq!(
                e,
                format!(
                    "x.itlm: damaged run file: truncated: the body has {} of its {body} bytes",
                    len - 24
                ),
                "at {len}"
            );
        }
    }
}

#[test]
fn bytes_after_the_body_and_garbage_bodies() {
    let bytes = sample_run().to_bytes().unwrap();
    let body = bytes.len() - 24;
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"extra");
    assert_eq!(
        err(&longer),
        format!("x.itlm: damaged run file: 5 unexpected bytes after the {body}-byte body")
    );

    // A valid header followed by random garbage, for both versions; also with the length and
    // checksum made to match, so that postcard itself meets the garbage.
    let mut rng = Rng::new(7);
    for round in 0..300 {
        let len = 1 + rng.below(600);
        let garbage: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let mut v2 = bytes[..12].to_vec();
        v2.extend_from_slice(&(len as u64).to_le_bytes());
        v2.extend_from_slice(&export::checksum(RUN_VERSION, &garbage).to_le_bytes());
        v2.extend_from_slice(&garbage);
        let e = err(&v2);
        assert!(e.starts_with("x.itlm: damaged run file: "), "{round}: {e}");
        // v1 has no checksum: garbage must still fail cleanly
        let mut v1 = RUN_MAGIC.to_vec();
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&garbage);
        let e = err(&v1);
        assert!(e.starts_with("x.itlm: damaged run file: "), "{round}: {e}");
        // garbage in place of a real header's body
        let mut g = bytes[..24].to_vec();
        g.extend_from_slice(&garbage);
        assert!(err(&g).starts_with("x.itlm: damaged run file: "));
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let bytes = sample_run().to_bytes().unwrap();
    let mut undetected = Vec::new();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            match decode(&b) {
                Ok(_) => undetected.push((i, bit)),
                Err(e) => {
                    if i >= 24 {
                        assert!(e.contains("checksum mismatch"), "byte {i} bit {bit}: {e}");
                    }
                }
            }
        }
    }
    assert!(undetected.is_empty(), "undetected flips: {undetected:?}");
}

#[test]
fn inconsistent_runs_with_valid_checksums_are_refused() {
    let base = sample_run();
    type Edit = fn(&mut RunFile);
    let cases: [(Edit, &str); 9] = [
        (
            |r| std::sync::Arc::make_mut(&mut r.rounds[0]).relabelled = vec![Some(1); 5],
            "round 0 relabels 5 of 12 samples",
        ),
        (
            |r| std::sync::Arc::make_mut(&mut r.rounds[1]).relabelled = vec![Some(3); 12],
            "round 1 relabels to class 3 but only 3 classes",
        ),
        (
            |r| {
                std::sync::Arc::make_mut(&mut r.rounds[0]).score.pop();
            },
            "round 0 does not cover every sample",
        ),
        (
            |r| {
                r.dataset.labels.pop();
            },
            "label count differs from sample count",
        ),
        (|r| r.dataset.labels[0] = 3, "label 3 but only 3 classes"),
        (
            |r| std::sync::Arc::make_mut(&mut r.rounds[1]).probs = vec![0.5; 5],
            "round 1 has 5 class probabilities for 12 samples of 3 classes",
        ),
        (
            |r| {
                if let Some(t) = r.truth.as_mut() {
                    t.kind.pop();
                }
            },
            "ground truth does not cover every sample",
        ),
        (
            |r| {
                if let Some(v) = r.verdict.as_mut() {
                    v.round = 9;
                }
            },
            "the verdict's round 9 is not in the run",
        ),
        (
            |r| {
                if let Some(v) = r.verdict.as_mut() {
                    v.kept.push(true);
                }
            },
            "verdict does not cover every sample",
        ),
    ];
    for (edit, want) in cases {
        let mut r = base.clone();
        edit(&mut r);
        let e = err(&r.to_bytes().unwrap());
        assert_eq!(e, format!("x.itlm: damaged run file: {want}"));
    }
}

#[test]
fn write_all_refuses_existing_files_unless_allowed() {
    let run = sample_run();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    export::write_all(&out, &run, Overwrite::Refuse).unwrap();
    let before = std::fs::read(out.join(export::RUN_FILE)).unwrap();
    let mut other = run.clone();
    other.status = RunStatus::Failed("something".into());
    let e = export::write_all(&out, &other, Overwrite::Refuse)
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(std::fs::read(out.join(export::RUN_FILE)).unwrap(), before);
    export::write_all(&out, &other, Overwrite::Allow).unwrap();
    assert_eq!(RunFile::read(&out.join(export::RUN_FILE)).unwrap(), other);
}

/// Files an earlier build really wrote (the fuzz seeds: `run --limit 6|5 --model mlp` on the
/// demo set, versions 1 and 2, before `folds` existed; version 3 `--folds 2`, before the
/// optimizer choice) still open.
#[test]
fn run_files_written_by_an_earlier_build_still_open() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/run_file");
    for (name, n, folds) in [
        ("v1_demo6", 6, 1),
        ("v2_demo6", 6, 1),
        ("v2_demo5", 5, 1),
        ("v3_demo6", 6, 2),
    ] {
        let run = RunFile::read(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(run.dataset.len(), n, "{name}");
        assert_eq!(run.config.folds, folds, "{name}");
        assert_eq!(run.learner.optimizer, OptimizerKind::Adamw, "{name}");
        assert_eq!(run.learner.model, ModelKind::Mlp, "{name}");
        assert!(!run.rounds.is_empty(), "{name}");
        assert!(run.verdict().is_some(), "{name}");
    }
    // Version 4: SGD with a cosine schedule, no evaluation-set sources.
    let run = RunFile::read(&dir.join("v4_demo6_sgd")).unwrap();
    assert_eq!(run.learner.optimizer, OptimizerKind::Sgd);
    assert_eq!(
        run.learner.lr_schedule,
        itlm_inspector::learner::LrSchedule::Cosine
    );
    assert!(run.dataset.eval_sources.is_empty());
    assert_eq!(run.dataset.len(), 6);
    // Version 5: the test-2 folder found beside the set is among its sources; no restore.
    let run = RunFile::read(&dir.join("v5_demo6_test2")).unwrap();
    assert_eq!(run.dataset.len(), 6);
    assert!(!run.config.restore);
    assert!(
        run.dataset.eval_sources.iter().any(|s| matches!(
            s,
            itlm_inspector::data::Source::ImageFolder { root } if root.ends_with("demo-test2")
        )),
        "{:?}",
        run.dataset.eval_sources
    );
    // Version 6: a run that restored, with its restore round.
    let run = RunFile::read(&dir.join("v6_demo6_restore")).unwrap();
    assert!(run.config.restore);
    assert_eq!(run.rounds.len(), 3, "rounds 0, 1 and the restore round");
    // Version 7: the status an enum, before `relabel`.
    let run = RunFile::read(&dir.join("v7_demo6")).unwrap();
    assert_eq!(run.dataset.len(), 6);
    assert_eq!(run.status, RunStatus::Finished);
    assert!(!run.config.relabel);
    assert!(run.rounds.iter().all(|r| r.relabelled.is_empty()));
    // Version 8: a relabelling run, before the clustering cut.
    let run = RunFile::read(&dir.join("v8_demo6_relabel")).unwrap();
    assert_eq!(run.dataset.len(), 6);
    assert!(run.config.relabel && !run.config.clusters);
    assert!(run
        .rounds
        .iter()
        .all(|r| r.held_out.is_empty() && r.clusters.is_none()));
    // Version 9: a run with the clustering cut, before the spectral scores.
    let run = RunFile::read(&dir.join("v9_demo6_clusters")).unwrap();
    assert_eq!(run.dataset.len(), 6);
    assert!(run.config.clusters);
    assert!(run.rounds.last().unwrap().clusters.is_some());
    assert!(run.rounds.iter().all(|r| r.spectral.is_empty()));
    // Version 10: spectral scores, before forward correction (`run --limit 6 --model mlp
    // --rounds 1 --epochs 1 --final-epochs 1` on the demo set).
    let run = RunFile::read(&dir.join("v10_demo6")).unwrap();
    assert_eq!(run.dataset.len(), 6);
    assert_eq!(run.config.transition, Forward::Off);
    assert!(run.rounds.iter().any(|r| r.spectral.len() == 6));
    assert!(run.rounds.iter().all(|r| r.transition.is_empty()));
    // Version 11: forward correction as a flag (`run --limit 6 --model mlp --rounds 1 --epochs
    // 1 --final-epochs 1 --transition` on the demo set): read as `on`. Six samples give no
    // confident estimate, so no round trained with a matrix.
    let run = RunFile::read(&dir.join("v11_demo6_transition")).unwrap();
    assert_eq!(run.dataset.len(), 6);
    assert_eq!(run.config.transition, Forward::On);
    assert_eq!(run.rounds.len(), 2);
}

/// `run` with its last round's clustering cut holding out two samples.
fn clustered_run() -> RunFile {
    let mut run = sample_run();
    run.config.clusters = true;
    let n = run.dataset.len();
    let last = run.rounds.len() - 1;
    let r = std::sync::Arc::make_mut(&mut run.rounds[last]);
    r.held_out = vec![false; n];
    r.held_out[3] = true;
    r.held_out[7] = true;
    r.spectral = (0..n).map(|i| i as f32 * 0.25).collect();
    r.clusters = Some(itlm::ClusterReport {
        classes: vec![itlm::clusters::ClassCluster {
            class: 1,
            count: 6,
            size: 2,
            separation: 1.3,
            trimmed_in: 2.0,
            trimmed_rest: 0.0,
            own_share: 0.5,
            other: Some((0, 0.5)),
            flagged: true,
        }],
        probe_epochs: 9.0,
    });
    run
}

#[test]
fn the_clustering_cut_reads_back_and_version_8_files_read_without_it() {
    let run = clustered_run();
    let back = decode(&run.to_bytes().unwrap()).unwrap();
    assert_eq!(back, run);
    let last = back.rounds.last().unwrap();
    assert!(last.is_held_out(3) && last.is_held_out(7) && !last.is_held_out(0));
    assert!(back.config.clusters);
    // A version-8 body: the config without `clusters`, the round extras without the cut.
    let plain = sample_run();
    let v8 = old_body(
        &plain,
        |c| itlm_inspector::export::legacy::ConfigNoClusters::from(c),
        |_| itlm_inspector::export::legacy::RoundExtrasV8::default(),
    );
    assert_eq!(decode(&with_header(8, &v8)).unwrap(), plain);
    // Under today's version it is refused, not misread.
    assert!(decode(&with_header(RUN_VERSION, &v8)).is_err());
    // A held-out round's sample count must match the run's.
    let mut bad = clustered_run();
    let last = bad.rounds.len() - 1;
    std::sync::Arc::make_mut(&mut bad.rounds[last]).held_out = vec![true; 2];
    let e = decode(&bad.to_bytes().unwrap()).unwrap_err();
    assert!(e.contains("holds out 2 of"), "{e}");
    // So must its spectral scores'.
    let mut bad = clustered_run();
    std::sync::Arc::make_mut(&mut bad.rounds[last]).spectral = vec![1.0; 3];
    let e = decode(&bad.to_bytes().unwrap()).unwrap_err();
    assert!(e.contains("spectral scores for 3 of"), "{e}");
}

#[test]
fn version_9_bodies_read_without_spectral_scores() {
    // Today's config, the round extras without the spectral scores.
    let mut plain = clustered_run();
    for r in &mut plain.rounds {
        std::sync::Arc::make_mut(r).spectral.clear();
    }
    let v9 = old_body(
        &plain,
        |c| itlm_inspector::export::legacy::ConfigNoTransition::from(c),
        |r| itlm_inspector::export::legacy::RoundExtrasV9 {
            relabelled: r.relabelled.clone(),
            relabel: r.metrics.relabel,
            held_out: r.held_out.clone(),
            clusters: r.clusters.clone(),
        },
    );
    assert_eq!(decode(&with_header(9, &v9)).unwrap(), plain);
    assert!(decode(&with_header(RUN_VERSION, &v9)).is_err());
}

/// `run` trained with forward correction: its later rounds carry their transition matrices.
fn transition_run() -> RunFile {
    let mut run = sample_run();
    run.config.transition = Forward::On;
    let k = run.dataset.classes.len();
    for r in run.rounds.iter_mut().skip(1) {
        let r = std::sync::Arc::make_mut(r);
        r.transition = (0..k * k)
            .map(|i| {
                if i % (k + 1) == 0 {
                    0.8
                } else {
                    0.2 / (k - 1) as f32
                }
            })
            .collect();
        r.metrics.estimated = Some((0.9, 0.8));
    }
    run
}

#[test]
fn transition_matrices_read_back_and_version_10_files_read_without_them() {
    let run = transition_run();
    let back = decode(&run.to_bytes().unwrap()).unwrap();
    assert_eq!(back, run);
    assert_eq!(back.config.transition, Forward::On);
    assert!(back.rounds[0].transition.is_empty());
    assert_eq!(back.rounds[1].transition.len(), 9);
    assert_eq!(back.rounds[1].metrics.estimated, Some((0.9, 0.8)));
    // A version-10 body: the config without `transition`, the extras without the matrices.
    let mut plain = clustered_run();
    plain.config.transition = Forward::Off;
    let v10 = old_body(
        &plain,
        |c| itlm_inspector::export::legacy::ConfigNoTransition::from(c),
        |r| itlm_inspector::export::legacy::RoundExtrasV10 {
            relabelled: r.relabelled.clone(),
            relabel: r.metrics.relabel,
            held_out: r.held_out.clone(),
            clusters: r.clusters.clone(),
            spectral: r.spectral.clone(),
        },
    );
    assert_eq!(decode(&with_header(10, &v10)).unwrap(), plain);
    assert!(decode(&with_header(RUN_VERSION, &v10)).is_err());
    // A matrix that does not fit the classes is refused.
    let mut bad = transition_run();
    std::sync::Arc::make_mut(&mut bad.rounds[1]).transition = vec![0.5; 4];
    let e = decode(&bad.to_bytes().unwrap()).unwrap_err();
    assert!(
        e.contains("transition matrix of 4 values for 3 classes"),
        "{e}"
    );
}

/// Version 12 stores forward correction as a mode (off, on, auto); version 11 stored a flag,
/// read as off or on.
#[test]
fn forward_correction_modes_read_back_and_version_11_flags_read_as_on_or_off() {
    let mut auto = transition_run();
    auto.config.transition = Forward::Auto;
    assert_eq!(decode(&auto.to_bytes().unwrap()).unwrap(), auto);
    for (flag, mode) in [(true, Forward::On), (false, Forward::Off)] {
        let mut run = transition_run();
        run.config.transition = mode;
        let v11 = old_body(
            &run,
            |c| itlm_inspector::export::legacy::ConfigFlagTransition {
                before: c.into(),
                transition: flag,
            },
            itlm_inspector::export::legacy::RoundExtrasV15::of,
        );
        assert_eq!(decode(&with_header(11, &v11)).unwrap(), run);
    }
    // Auto in version 11's layout is the flag it ran as: off.
    let flag = itlm_inspector::export::legacy::ConfigFlagTransition::from(&auto.config);
    assert!(!flag.transition);
}

/// Version 13 stores a co-teaching run's schedule; a version-12 file (before co-teaching) reads
/// as ITLM's rounds, and its bytes are not a version-13 body.
#[test]
fn coteaching_reads_back_and_version_12_reads_as_itlm() {
    let mut co = transition_run();
    co.config.transition = Forward::Auto;
    co.config.coteach = Some(itlm_inspector::itlm::CoTeach {
        epochs: 7,
        ramp: 3,
        pseudo: Some(0.95),
        smoothing: 0.1,
    });
    assert_eq!(decode(&co.to_bytes().unwrap()).unwrap(), co);
    let v12 = old_body(
        &co,
        |c| itlm_inspector::export::legacy::ConfigNoCoteach::from(c),
        itlm_inspector::export::legacy::RoundExtrasV15::of,
    );
    let read = decode(&with_header(12, &v12)).unwrap();
    assert_eq!(read.config.coteach, None);
    assert_eq!(read.config.transition, Forward::Auto);
    assert_eq!(read.rounds, co.rounds);
    assert!(decode(&with_header(RUN_VERSION, &v12)).is_err());
}

/// Version 14 stores co-teaching's pseudo-label confidence; a version-13 co-teaching run (before
/// pseudo-labels) reads as co-teaching without them.
#[test]
fn pseudo_labels_read_back_and_version_13_reads_without_them() {
    let mut co = transition_run();
    co.config.transition = Forward::Auto;
    co.config.coteach = Some(itlm_inspector::itlm::CoTeach {
        epochs: 7,
        ramp: 3,
        pseudo: Some(0.9),
        smoothing: 0.1,
    });
    assert_eq!(decode(&co.to_bytes().unwrap()).unwrap(), co);
    let v13 = old_body(
        &co,
        |c| itlm_inspector::export::legacy::ConfigNoPseudo::from(c),
        itlm_inspector::export::legacy::RoundExtrasV15::of,
    );
    let read = decode(&with_header(13, &v13)).unwrap();
    let ct = read.config.coteach.expect("still co-teaching");
    assert_eq!((ct.epochs, ct.ramp, ct.pseudo), (7, 3, None));
    assert_eq!(read.config.transition, Forward::Auto);
    assert_eq!(read.rounds, co.rounds);
    assert!(decode(&with_header(RUN_VERSION, &v13)).is_err());
}

#[test]
fn augmentation_reads_back_and_version_14_reads_without_it() {
    let mut co = transition_run();
    co.config.coteach = Some(itlm_inspector::itlm::CoTeach {
        epochs: 7,
        ramp: 3,
        pseudo: Some(0.9),
        smoothing: 0.1,
    });
    co.config.augment = itlm_inspector::itlm::Augment {
        shift: 3,
        flip: true,
    };
    assert_eq!(decode(&co.to_bytes().unwrap()).unwrap(), co);
    let v14 = old_body(
        &co,
        |c| itlm_inspector::export::legacy::ConfigNoAugment::from(c),
        itlm_inspector::export::legacy::RoundExtrasV15::of,
    );
    let read = decode(&with_header(14, &v14)).unwrap();
    assert!(
        read.config.augment.is_off(),
        "version 14 trained on the images as they are"
    );
    // Versions 14 to 18 trained co-teaching on plain cross-entropy.
    let unsmoothed = co.config.coteach.map(|c| itlm_inspector::itlm::CoTeach {
        smoothing: 0.0,
        ..c
    });
    assert_eq!(read.config.coteach, unsmoothed);
    assert_eq!(read.rounds, co.rounds);
    assert!(decode(&with_header(RUN_VERSION, &v14)).is_err());
}

/// Version 16 stores the classes a forward round's first model folded before the round trained
/// again; a version-15 file (no build before 16 trained a round again) reads with none.
#[test]
fn folded_classes_read_back_and_version_15_reads_without_them() {
    let mut run = transition_run();
    run.config.transition = Forward::Auto;
    std::sync::Arc::make_mut(&mut run.rounds[1])
        .metrics
        .unfolded = vec![itlm::Starved {
        class: 2,
        predicted: 0,
        labelled: 17,
    }];
    let back = decode(&run.to_bytes().unwrap()).unwrap();
    assert_eq!(back, run);
    assert_eq!(back.rounds[1].metrics.unfolded[0].labelled, 17);
    assert!(back.rounds[0].metrics.unfolded.is_empty());
    let v15 = old_body(
        &run,
        |c| itlm_inspector::export::legacy::ConfigNoTauFromData::from(c),
        itlm_inspector::export::legacy::RoundExtrasV15::of,
    );
    let read = decode(&with_header(15, &v15)).unwrap();
    assert!(read.rounds.iter().all(|r| r.metrics.unfolded.is_empty()));
    assert_eq!(read.rounds[1].transition, run.rounds[1].transition);
    assert_eq!(read.config, run.config);
    assert!(decode(&with_header(RUN_VERSION, &v15)).is_err());
}

/// Version 17 stores whether the run chose its tau from the data; a version-16 file (tau as
/// set) reads with the flag off and everything else as written.
#[test]
fn tau_from_the_data_reads_back_and_version_16_reads_as_tau_set() {
    let mut run = transition_run();
    run.config.tau_from_data = true;
    run.config.tau = 0.93;
    let back = decode(&run.to_bytes().unwrap()).unwrap();
    assert_eq!(back, run);
    assert!(back.config.tau_from_data);
    let v16 = old_body(
        &run,
        |c| itlm_inspector::export::legacy::ConfigNoTauFromData::from(c),
        itlm_inspector::export::legacy::RoundExtrasV17::of,
    );
    let read = decode(&with_header(16, &v16)).unwrap();
    assert!(!read.config.tau_from_data);
    assert_eq!(read.config.tau, 0.93);
    assert_eq!(read.rounds, run.rounds);
    // A version-16 body is one byte short of a version-17 one.
    assert!(decode(&with_header(17, &v16)).is_err());
}

/// Version 18 stores the flips a fold check took out of a round's matrix; a version-17 file
/// (the folded classes only) reads with none and everything else as written.
#[test]
fn the_flips_a_fold_took_out_read_back_and_version_17_reads_without_them() {
    let mut run = transition_run();
    {
        let m = &mut std::sync::Arc::make_mut(&mut run.rounds[1]).metrics;
        m.unfolded = vec![itlm::Starved {
            class: 1,
            predicted: 0,
            labelled: 5,
        }];
        m.unfolded_flips = vec![(2, 1), (0, 1)];
    }
    let back = decode(&run.to_bytes().unwrap()).unwrap();
    assert_eq!(back, run);
    assert_eq!(back.rounds[1].metrics.unfolded_flips, [(2, 1), (0, 1)]);
    let v17 = old_body(
        &run,
        |c| itlm_inspector::export::legacy::ConfigNoSmoothing::from(c),
        itlm_inspector::export::legacy::RoundExtrasV17::of,
    );
    let read = decode(&with_header(17, &v17)).unwrap();
    assert!(read
        .rounds
        .iter()
        .all(|r| r.metrics.unfolded_flips.is_empty()));
    assert_eq!(
        read.rounds[1].metrics.unfolded,
        run.rounds[1].metrics.unfolded
    );
    assert_eq!(read.config, run.config);
    // A version-17 body is short of a version-18 one.
    assert!(decode(&with_header(18, &v17)).is_err());
}

/// Version 19 stores co-teaching's label smoothing; a version-18 co-teaching run (plain
/// cross-entropy) reads with smoothing 0 and everything else as written, and a version-18
/// body under today's header is refused.
#[test]
fn label_smoothing_reads_back_and_version_18_reads_without_it() {
    let mut co = transition_run();
    co.config.transition = Forward::Auto;
    co.config.coteach = Some(itlm_inspector::itlm::CoTeach {
        epochs: 9,
        ramp: 4,
        pseudo: None,
        smoothing: 0.25,
    });
    let back = decode(&co.to_bytes().unwrap()).unwrap();
    assert_eq!(back, co);
    assert_eq!(back.config.coteach.map(|c| c.smoothing), Some(0.25));
    let v18 = old_body(
        &co,
        |c| itlm_inspector::export::legacy::ConfigNoSmoothing::from(c),
        itlm_inspector::export::run_file::RoundExtras::of,
    );
    let read = decode(&with_header(18, &v18)).unwrap();
    let ct = read.config.coteach.expect("still co-teaching");
    assert_eq!(
        (ct.epochs, ct.ramp, ct.pseudo, ct.smoothing),
        (9, 4, None, 0.0)
    );
    assert_eq!(read.rounds, co.rounds);
    assert!(decode(&with_header(RUN_VERSION, &v18)).is_err());
}

/// A generative run has no p(given label): samples.csv leaves the field empty, never NaN.
#[test]
fn generative_samples_csv_leaves_p_given_empty() {
    let mut run = sample_run();
    run.learner.model = ModelKind::Vae;
    for r in &mut run.rounds {
        std::sync::Arc::make_mut(r).p_given.fill(f32::NAN);
    }
    let csv = export::samples_csv(&run).unwrap();
    assert!(!csv.contains("NaN"), "{csv}");
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!((f[2], f[3]), ("", ""), "{line}");
    }
}

/// Version 20 stores the labels CSV columns a set was read with; a version-19 body (none)
/// reads with the columns found by name, and a version-19 body under today's header is
/// refused.
#[test]
fn csv_columns_read_back_and_version_19_reads_without_them() {
    let mut run = sample_run();
    run.dataset.columns = itlm_inspector::data::labels_csv::Columns {
        path: Some("img_file".into()),
        label: Some("y".into()),
        images: None,
    };
    let back = decode(&run.to_bytes().unwrap()).unwrap();
    assert_eq!(back.dataset.columns, run.dataset.columns);
    let v19 = old_body(
        &run,
        |c| c.clone(),
        itlm_inspector::export::run_file::RoundExtras::of,
    );
    let read = decode(&with_header(19, &v19)).unwrap();
    assert!(read.dataset.columns.is_auto());
    assert_eq!(read.rounds, run.rounds);
    assert!(decode(&with_header(RUN_VERSION, &v19)).is_err());
}

/// Version 21 stores the labels CSV's images folder (`--images`) with its columns; a version-20
/// body (the columns without it) reads with the paths relative to the CSV, and under today's
/// header is refused.
#[test]
fn csv_images_folder_reads_back_and_version_20_reads_without_it() {
    let mut run = sample_run();
    run.dataset.columns = itlm_inspector::data::labels_csv::Columns {
        path: Some("id".into()),
        label: None,
        images: Some("/data/comp/train_images".into()),
    };
    let bytes = run.to_bytes().unwrap();
    assert_eq!(decode(&bytes).unwrap().dataset.columns, run.dataset.columns);
    // Version 20's body: the same with the columns' two fields only (postcard: an absent
    // images folder is its last byte, 0).
    run.dataset.columns.images = None;
    let bytes = run.to_bytes().unwrap();
    let body = &bytes[24..bytes.len() - 1];
    let read = decode(&with_header(20, body)).unwrap();
    assert_eq!(read.dataset.columns.path.as_deref(), Some("id"));
    assert_eq!(read.dataset.columns.images, None);
    assert_eq!(read.rounds, run.rounds);
    assert!(decode(&with_header(RUN_VERSION, body)).is_err());
}
