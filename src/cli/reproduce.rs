//! `itlm-inspector reproduce ...`: the paper's three settings on real data, measured end to end
//! in one process (noise injected in memory, exactly as `corrupt` writes it): noisy labels
//! (naive / ITLM global / ITLM per-class / oracle), backdoor attacks (test-1 / test-2) and
//! spurious images in an unlabelled set (VAE; trimming precision / recall per round).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::json;

use super::args::{ItlmArgs, ModelArgs};
use super::cleanlab_peer;
use super::run::round_json;
use crate::data::corrupt::{Corrupted, SampleKind};
use crate::data::watermark::{MarkShape, Position, Watermark};
use crate::data::{self, Dataset, LoadOptions};
use crate::error::{Error, Result};
use crate::itlm::{self, Config, Forward, Learner, RoundRecord, Selection, Start};
use crate::learner::{self, LearnerConfig, ModelKind};
use crate::presets::{backdoor_learner, backdoor_protocol};
use crate::session::{self, LineStyle};

#[derive(Args, Debug, Clone)]
pub struct ReproduceArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Which {
    /// Label noise: naive vs ITLM (global, per-class) vs oracle for several noise settings.
    NoisyLabels(NoisyArgs),
    /// Backdoor attacks: test-1 (clean accuracy) and test-2 (attack success), naive vs ITLM.
    Backdoor(BackdoorArgs),
    /// Spurious images in an unlabelled set: a VAE, trimming precision / recall per round.
    Spurious(SpuriousArgs),
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// An IDX directory (train + t10k) or image folder with a test split.
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    pub data: PathBuf,
    /// Seeded training subset size.
    #[arg(long, default_value_t = 20000)]
    pub limit: usize,
    /// Test subset size (default: the whole test split).
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Append one JSON line per measured run to this file.
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct NoisyArgs {
    #[command(flatten)]
    pub common: Common,
    /// Comma-separated settings: sys:RATE (class c labelled c+1) or rand:RATE.
    #[arg(long, default_value = "sys:0.3,sys:0.4,rand:0.4,rand:0.6")]
    pub settings: String,
    /// Comma-separated methods: naive, global, per-class, relabel (global with --relabel),
    /// transition (global with --transition: forward-corrected rounds on every sample),
    /// auto (global with --transition auto: forward-corrected when round 0 sees one-sided
    /// flips), coteach (co-teaching: two models pick each other's samples, --coteach's
    /// schedule, tau = 1 - rate), cleanlab (the pipeline a cleanlab user would run, in
    /// PyTorch 2.x on the same images and noisy labels: `benches/cleanlab_pipeline.py`, see
    /// --python), oracle.
    #[arg(long, default_value = "naive,global,per-class,oracle")]
    pub methods: String,
    /// The Python (PyTorch 2.x with cleanlab and scikit-learn) the cleanlab method runs
    /// `benches/cleanlab_pipeline.py` with [default: ITLM_TORCH_PYTHON, else
    /// benches/.venv-torch/bin/python].
    #[arg(long)]
    pub python: Option<PathBuf>,
    #[command(flatten)]
    pub itlm: ItlmArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug, Clone)]
pub struct BackdoorArgs {
    #[command(flatten)]
    pub common: Common,
    /// Comma-separated attacks A-B-SHAPE (class A stamped and labelled B).
    #[arg(long, default_value = "1-2-X,9-4-X,6-0-L,2-8-L")]
    pub pairs: String,
    /// Share of class A that is stamped.
    #[arg(long, default_value_t = 0.1)]
    pub rate: f64,
    /// Skip the naive baseline (protocol exploration).
    #[arg(long)]
    pub no_naive: bool,
    /// Skip the protocol's run (with --cleanlab: the peer alone).
    #[arg(long)]
    pub no_protocol: bool,
    /// Also run the pipeline a cleanlab user would (`benches/cleanlab_pipeline.py` in PyTorch
    /// 2.x: 4-fold out-of-fold probabilities, find_label_issues, a fresh CNN on what it keeps)
    /// on the same stamped set, and print its test-1 / test-2.
    #[arg(long)]
    pub cleanlab: bool,
    /// The Python (PyTorch 2.x with cleanlab and scikit-learn) for --cleanlab [default:
    /// ITLM_TORCH_PYTHON, else benches/.venv-torch/bin/python].
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Watermark position: corner, center or ROW,COL.
    #[arg(long, default_value = "corner")]
    pub position: Position,
    /// Watermark size in pixels (default: a seventh of the shorter side).
    #[arg(long)]
    pub mark_size: Option<usize>,
    #[command(flatten)]
    pub itlm: ItlmArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SpuriousArgs {
    #[command(flatten)]
    pub common: Common,
    /// The main class (name or index).
    #[arg(long, default_value = "Sneaker")]
    pub class: String,
    /// Spurious share of the mixed set.
    #[arg(long, default_value_t = 0.2)]
    pub rate: f64,
    #[command(flatten)]
    pub itlm: ItlmArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(a: &ReproduceArgs) -> Result<()> {
    match &a.which {
        Which::NoisyLabels(n) => noisy(n),
        Which::Backdoor(b) => backdoor(b),
        Which::Spurious(s) => spurious(s),
    }
}

/// Train and test sets of the common arguments.
fn load(c: &Common) -> Result<(Dataset, Dataset)> {
    let l = data::load(&c.data, &LoadOptions::default())?;
    let test = l.test.ok_or_else(|| {
        Error::data(
            &c.data,
            "needs a test split (an IDX directory's t10k files, or train/ + test/ folders)",
        )
    })?;
    let test = match c.test_limit {
        Some(t) => test.limit(t, 7),
        None => test,
    };
    Ok((l.train.limit(c.limit, 0), test))
}

fn emit(c: &Common, v: serde_json::Value) -> Result<()> {
    if let Some(p) = &c.jsonl {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| Error::io(p, e))?;
        writeln!(f, "{v}").map_err(|e| Error::io(p, e))?;
    }
    Ok(())
}

/// Accuracy on `d` (0 for an empty set).
fn accuracy(l: &mut dyn Learner, d: &Dataset) -> Result<f64> {
    Ok(session::run::accuracy(l, d)?.unwrap_or(0.0))
}

/// A fresh model trained on `idx` for `epochs`: the naive baseline (all samples) or the oracle
/// (clean samples), seeded as a run's round 0.
fn train_once(
    lc: &LearnerConfig,
    d: &Dataset,
    idx: &[usize],
    epochs: usize,
    seed: u64,
) -> Result<Box<dyn Learner>> {
    let mut l = learner::build(lc, d)?;
    session::run::train_fresh(l.as_mut(), d, idx, epochs as f64, seed)?;
    Ok(l)
}

fn itlm_run(
    lc: &LearnerConfig,
    d: &Dataset,
    eval: itlm::Eval<'_>,
    truth: &Corrupted,
    cfg: &Config,
) -> Result<Vec<Arc<RoundRecord>>> {
    itlm_run_deciding(lc, d, eval, truth, cfg).map(|(h, _)| h)
}

/// [`itlm_run`], and what `Forward::Auto` decided after round 0, as a table cell's note
/// ("forward correction", "co-teaching at tau 0.38", or "plain ITLM" when it kept it).
fn itlm_run_deciding(
    lc: &LearnerConfig,
    d: &Dataset,
    eval: itlm::Eval<'_>,
    truth: &Corrupted,
    cfg: &Config,
) -> Result<(Vec<Arc<RoundRecord>>, String)> {
    let mut decided = "plain ITLM".to_string();
    let bad: Vec<bool> = truth
        .kinds
        .iter()
        .map(|k| *k != SampleKind::Clean)
        .collect();
    let true_labels: Vec<Option<u32>> = truth.true_labels.iter().map(|&t| Some(t)).collect();
    let mut l = learner::build(lc, d)?;
    let mut hist = Vec::new();
    let mut log = |e: &itlm::Event| {
        match e {
            itlm::Event::RoundDone(r) => {
                eprintln!("{}", session::round_line(r, LineStyle::Compact));
                if let Some(line) = session::unfolded_line(r, &d.classes) {
                    eprintln!("    {line}");
                }
            }
            itlm::Event::CoteachChosen {
                shape,
                noise,
                config,
            } => {
                eprintln!(
                    "    {}",
                    session::coteach_chosen_line(*shape, *noise, config)
                );
                decided = format!("co-teaching at tau {:.2}", config.tau);
            }
            itlm::Event::ForwardDecided { round, on, shape } => {
                eprintln!("    {}", session::auto_forward_line(*round, *on, *shape));
                if *on {
                    decided = "forward correction".into();
                }
            }
            _ => {}
        }
        Ok(())
    };
    itlm::run(
        l.as_mut(),
        itlm::Inputs {
            data: d,
            eval,
            bad: Some(&bad),
            true_labels: Some(&true_labels),
            pins: None,
        },
        cfg,
        Start::Fresh,
        &mut hist,
        &mut log,
    )?;
    Ok((hist, decided))
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn noisy(a: &NoisyArgs) -> Result<()> {
    let (train, test) = load(&a.common)?;
    let lc = a.model.config();
    let base = a.itlm.config();
    let methods: Vec<String> = a.methods.split(',').map(|s| s.trim().to_string()).collect();
    for m in &methods {
        if ![
            "naive",
            "global",
            "per-class",
            "relabel",
            "transition",
            "auto",
            "coteach",
            "cleanlab",
            "oracle",
        ]
        .contains(&m.as_str())
        {
            return Err(Error::Config(format!("unknown method '{m}'")));
        }
    }
    // Before any training: the cleanlab method's Python must be there.
    let python = match methods.iter().any(|m| m == "cleanlab") {
        true => Some(cleanlab_peer::python(a.python.as_deref())?),
        false => None,
    };
    let mut rows = Vec::new();
    for setting in a.settings.split(',') {
        let (kind, rate) = setting
            .split_once(':')
            .and_then(|(k, r)| Some((k.trim().to_string(), r.trim().parse::<f64>().ok()?)))
            .ok_or_else(|| {
                Error::Config(format!(
                    "setting '{setting}': expected sys:RATE or rand:RATE"
                ))
            })?;
        let mut c = Corrupted::clean(train.clone());
        let k = c.data.num_classes() as u32;
        match kind.as_str() {
            "sys" => {
                let perm: Vec<u32> = (0..k).map(|x| (x + 1) % k).collect();
                c.flip_systematic(rate, &perm, None, base.seed)?;
            }
            "rand" => {
                c.flip_random(rate, None, base.seed)?;
            }
            _ => {
                return Err(Error::Config(format!(
                    "setting '{setting}': kind must be sys or rand"
                )))
            }
        }
        let bad: Vec<bool> = c.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
        let d = &c.data;
        let tau = a.itlm.tau.unwrap_or(1.0 - rate);
        eprintln!(
            "== {setting}: {} samples, {} bad, tau {tau}",
            d.len(),
            bad.iter().filter(|&&b| b).count()
        );
        let mut row = vec![format!(
            "{} {:.0}%",
            if kind == "sys" {
                "systematic"
            } else {
                "random"
            },
            rate * 100.0
        )];
        for m in &methods {
            let t0 = Instant::now();
            eprintln!("  {m}");
            let mut peer = None;
            let mut auto_note = None;
            // What an ITLM method ran (the JSON line records it; the others train once).
            let mut ran = None;
            let (acc, rounds) = match m.as_str() {
                "cleanlab" => {
                    let py = python
                        .as_deref()
                        .ok_or_else(|| Error::Config("the cleanlab method has no Python".into()))?;
                    let o = cleanlab_peer::run(
                        py,
                        d,
                        &bad,
                        &test,
                        None,
                        base.final_epochs,
                        base.seed,
                        rayon::current_num_threads(),
                    )?;
                    let acc = o.test_acc;
                    peer = Some(o);
                    (acc, Vec::new())
                }
                "naive" | "oracle" => {
                    let idx: Vec<usize> =
                        (0..d.len()).filter(|&i| m == "naive" || !bad[i]).collect();
                    let mut l = train_once(&lc, d, &idx, base.final_epochs, base.seed)?;
                    (accuracy(l.as_mut(), &test)?, Vec::new())
                }
                _ => {
                    let select = if m == "per-class" {
                        Selection::PerClass
                    } else {
                        Selection::Global
                    };
                    // global and per-class are plain ITLM unless --transition says otherwise.
                    let transition = match m.as_str() {
                        "transition" => Forward::On,
                        "auto" => Forward::Auto,
                        _ => a.itlm.transition.unwrap_or(Forward::Off),
                    };
                    let forward = transition != Forward::Off;
                    let relabel = (base.relabel || m == "relabel") && !forward;
                    let cfg = Config {
                        tau,
                        select,
                        relabel,
                        transition,
                        restore: base.restore && !relabel && !forward,
                        clusters: base.clusters && !forward,
                        ..base.clone()
                    };
                    // Co-teaching on the same settings, without what it does not combine with.
                    let cfg = if m == "coteach" {
                        Config {
                            transition: Forward::Off,
                            ..cfg.coteaching(base.coteach.unwrap_or_default())
                        }
                    } else {
                        Config {
                            coteach: None,
                            ..cfg
                        }
                    };
                    let eval = itlm::Eval {
                        test: Some(&test),
                        test2: None,
                    };
                    let (h, decided) = itlm_run_deciding(&lc, d, eval, &c, &cfg)?;
                    let acc = h.last().and_then(|r| r.metrics.test_acc).unwrap_or(0.0);
                    auto_note = (m == "auto").then_some(decided);
                    ran = Some(cfg);
                    (acc, h)
                }
            };
            let last_trim = rounds.last().and_then(|r| r.metrics.trim);
            let relabelled = rounds
                .iter()
                .find(|r| r.relabelled_count() > 0)
                .map(|r| match r.metrics.relabel {
                    Some(q) => {
                        format!(", relabelled {} P {:.2}", r.relabelled_count(), q.precision)
                    }
                    None => format!(", relabelled {}", r.relabelled_count()),
                })
                .unwrap_or_default();
            eprintln!(
                "  {m}: test {:.2}% ({:.0}s)",
                acc * 100.0,
                t0.elapsed().as_secs_f64()
            );
            row.push(match (&peer, last_trim) {
                (Some(o), _) => match (o.precision, o.recall) {
                    (Some(p), Some(r)) => format!(
                        "{:.1} (flagged {} P {p:.2} R {r:.2})",
                        acc * 100.0,
                        o.flagged
                    ),
                    _ => format!("{:.1} (flagged {})", acc * 100.0, o.flagged),
                },
                (None, Some(t)) => format!(
                    "{:.1} (P {:.2} R {:.2}{relabelled}{})",
                    acc * 100.0,
                    t.precision,
                    t.recall,
                    auto_note
                        .as_deref()
                        .map(|n| format!("; {n}"))
                        .unwrap_or_default()
                ),
                (None, None) => format!("{:.1}", acc * 100.0),
            });
            emit(
                &a.common,
                json!({
                    "experiment": "noisy-labels", "setting": setting, "method": m,
                    "tau": ran.as_ref().map(|c| c.tau),
                    "n": d.len(), "model": lc.model.to_string(),
                    // The config the method ran (None: it trained once, final_epochs).
                    "config": ran, "final_epochs": base.final_epochs,
                    "final_test_acc": acc,
                    "rounds": rounds.iter().map(|r| round_json(r)).collect::<Vec<_>>(),
                    "secs": t0.elapsed().as_secs_f64(),
                    "cleanlab": peer.as_ref().map(|o| &o.raw),
                    "auto_decided": auto_note,
                }),
            )?;
        }
        rows.push(row);
    }
    let mut header = vec!["noise".to_string()];
    header.extend(methods.iter().map(|m| match m.as_str() {
        "naive" => "naive".to_string(),
        "oracle" => "oracle".to_string(),
        "relabel" => "ITLM + relabel".to_string(),
        "transition" => "ITLM + transition".to_string(),
        "auto" => "ITLM, transition auto".to_string(),
        "coteach" => "co-teaching".to_string(),
        "cleanlab" => "cleanlab + PyTorch".to_string(),
        other => format!("ITLM {other}"),
    }));
    print_table(&header, &rows);
    Ok(())
}

fn print_table(header: &[String], rows: &[Vec<String>]) {
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));
    for r in rows {
        println!("| {} |", r.join(" | "));
    }
}

fn backdoor(a: &BackdoorArgs) -> Result<()> {
    let (train, test) = load(&a.common)?;
    let lc = a.model.config_over(backdoor_learner());
    let base = a.itlm.config_over(backdoor_protocol());
    // Before any training: the cleanlab peer's Python must be there.
    let python = match a.cleanlab {
        true => Some(cleanlab_peer::python(a.python.as_deref())?),
        false => None,
    };
    let mut rows = Vec::new();
    for pair in a.pairs.split(',') {
        let parts: Vec<&str> = pair.trim().split('-').collect();
        let parse = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| Error::Config(format!("pair '{pair}': expected A-B-SHAPE")))
        };
        if parts.len() != 3 {
            return Err(Error::Config(format!(
                "pair '{pair}': expected A-B-SHAPE, e.g. 1-2-X"
            )));
        }
        let (from, to) = (parse(parts[0])?, parse(parts[1])?);
        let shape = match parts[2].to_uppercase().as_str() {
            "X" => MarkShape::X,
            "L" => MarkShape::L,
            s => {
                return Err(Error::Config(format!(
                    "pair '{pair}': shape {s} is not X or L"
                )))
            }
        };
        let mark = Watermark {
            size: a
                .mark_size
                .unwrap_or_else(|| Watermark::default_size(train.shape)),
            position: a.position,
            ..Watermark::new(shape, 0)
        };
        let mut c = Corrupted::clean(train.clone());
        let stamped = c.backdoor(a.rate, from, to, &mark, base.seed)?;
        let test2 = crate::data::corrupt::test2_set(&test, from, to, &mark)?;
        eprintln!(
            "== {pair}: {stamped} stamped of {}, test-2 {} images",
            c.data.len(),
            test2.len()
        );
        let t0 = Instant::now();
        let (n1, n2) = if a.no_naive {
            (f64::NAN, f64::NAN)
        } else {
            let mut naive = train_once(
                &lc,
                &c.data,
                &(0..c.data.len()).collect::<Vec<_>>(),
                base.final_epochs,
                base.seed,
            )?;
            let (n1, n2) = (
                accuracy(naive.as_mut(), &test)?,
                accuracy(naive.as_mut(), &test2)?,
            );
            eprintln!(
                "  naive: test-1 {:.2}% test-2 {:.2}% ({:.0}s)",
                n1 * 100.0,
                n2 * 100.0,
                t0.elapsed().as_secs_f64()
            );
            (n1, n2)
        };
        let bad: Vec<bool> = c.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
        let peer = match python.as_deref() {
            Some(py) => {
                let o = cleanlab_peer::run(
                    py,
                    &c.data,
                    &bad,
                    &test,
                    Some(&test2),
                    base.final_epochs,
                    base.seed,
                    rayon::current_num_threads(),
                )?;
                eprintln!(
                    "  cleanlab: test-1 {} test-2 {} flagged {} ({:.0}s)",
                    pct(Some(o.test_acc)),
                    pct(o.test2_acc),
                    o.flagged,
                    o.secs
                );
                Some(o)
            }
            None => None,
        };
        let eval = itlm::Eval {
            test: Some(&test),
            test2: Some(&test2),
        };
        let h = match a.no_protocol {
            true => Vec::new(),
            false => itlm_run(&lc, &c.data, eval, &c, &base)?,
        };
        let last = h.last().map(|r| r.metrics.clone()).unwrap_or_default();
        let mut row = vec![
            format!(
                "{} -> {} ({shape})",
                train.classes[from as usize], train.classes[to as usize]
            ),
            pct(Some(n1).filter(|x| x.is_finite())),
            pct(Some(n2).filter(|x| x.is_finite())),
            pct(last.test_acc),
            pct(last.test2_acc),
            last.trim
                .map(|t| format!("{:.2} / {:.2}", t.precision, t.recall))
                .unwrap_or_default(),
        ];
        // With restore, round `rounds` is the plain ITLM final model (trained on the cut
        // before anything went back): what restoring changed.
        let plain = base
            .restore
            .then(|| h.get(base.rounds).map(|r| r.metrics.clone()))
            .flatten();
        if base.restore {
            row.push(pct(plain.as_ref().and_then(|p| p.test_acc)));
            row.push(pct(plain.as_ref().and_then(|p| p.test2_acc)));
        }
        let held = h
            .last()
            .and_then(|r| held_out_line(r, &bad, &train.classes));
        if base.clusters {
            row.push(
                held.as_ref()
                    .map_or_else(String::new, |(cell, _)| cell.clone()),
            );
        }
        if let Some((_, line)) = &held {
            eprintln!("  clustering cut: {line}");
        }
        if let Some(o) = &peer {
            row.push(pct(Some(o.test_acc)));
            row.push(pct(o.test2_acc));
            row.push(match (o.precision, o.recall) {
                (Some(p), Some(r)) => format!("{} at {p:.2} / {r:.2}", o.flagged),
                _ => o.flagged.to_string(),
            });
        }
        rows.push(row);
        emit(
            &a.common,
            json!({
                "experiment": "backdoor", "pair": pair, "rate": a.rate, "tau": base.tau, "position": a.position.to_string(),
                "mark_size": mark.size, "n": c.data.len(), "config": base, "learner": lc,
                "naive_test1": n1, "naive_test2": n2,
                "itlm_test1": last.test_acc, "itlm_test2": last.test2_acc,
                "plain_test1": plain.as_ref().and_then(|p| p.test_acc), "plain_test2": plain.as_ref().and_then(|p| p.test2_acc),
                "cleanlab": peer.as_ref().map(|o| &o.raw),
                "rounds": h.iter().map(|r| round_json(r)).collect::<Vec<_>>(),
            }),
        )?;
    }
    let mut header: Vec<String> = [
        "attack",
        "naive test-1",
        "naive test-2",
        "ITLM test-1",
        "ITLM test-2",
        "trim P / R",
    ]
    .map(String::from)
    .to_vec();
    if base.restore {
        header.push("without restore: test-1".into());
        header.push("test-2".into());
    }
    if base.clusters {
        header.push("held out (stamped)".into());
    }
    if python.is_some() {
        header.push("cleanlab test-1".into());
        header.push("cleanlab test-2".into());
        header.push("cleanlab flagged (P / R)".into());
    }
    print_table(&header, &rows);
    Ok(())
}

/// What the clustering cut held out of round `r`: a table cell "held (bad among them)" and a
/// line with every class's split.
fn held_out_line(
    r: &itlm::RoundRecord,
    bad: &[bool],
    classes: &[String],
) -> Option<(String, String)> {
    let report = r.clusters.as_ref()?;
    let held = r.held_out.iter().filter(|&&h| h).count();
    let held_bad = r.held_out.iter().zip(bad).filter(|(&h, &b)| h && b).count();
    let splits: Vec<String> = report
        .classes
        .iter()
        .map(|c| {
            format!(
                "{}{} {}/{} sep {:.2} x{:.1} own {:.2} other {}",
                if c.flagged { "*" } else { "" },
                classes.get(c.class as usize).map_or("?", |s| s.as_str()),
                c.size,
                c.count,
                c.separation,
                c.enrichment(),
                c.own_share,
                c.other.map_or_else(String::new, |(k, s)| format!(
                    "{} {s:.2}",
                    classes.get(k as usize).map_or("?", |s| s.as_str())
                ))
            )
        })
        .collect();
    Some((
        format!("{held} ({held_bad})"),
        format!(
            "held out {held} ({held_bad} stamped); splits (* = held out; smaller/class, separation, times trimmed x the rest's): {}",
            splits.join(", ")
        ),
    ))
}

fn spurious(a: &SpuriousArgs) -> Result<()> {
    let (train, _test) = load(&a.common)?;
    let class = crate::data::corrupt::class_index(&train.classes, &a.class)?;
    let pool: Vec<usize> = (0..train.len())
        .filter(|&i| train.label(i) != class)
        .collect();
    let base = a.itlm.config();
    let c = Corrupted::spurious(&train, class, &train, &pool, a.rate, base.seed)?;
    let lc = LearnerConfig {
        model: ModelKind::Vae,
        ..a.model.config()
    };
    let tau = a.itlm.tau.unwrap_or(1.0 - a.rate);
    let cfg = Config { tau, ..base };
    eprintln!(
        "== {} mixed with {:.0}% other images: {} samples",
        a.class,
        a.rate * 100.0,
        c.data.len()
    );
    let h = itlm_run(&lc, &c.data, itlm::Eval::default(), &c, &cfg)?;
    let rows: Vec<Vec<String>> = h
        .iter()
        .map(|r| {
            let t = r.metrics.trim.unwrap_or_default();
            vec![
                r.round.to_string(),
                r.trained_on.to_string(),
                format!("{:.3}", t.precision),
                format!("{:.3}", t.recall),
            ]
        })
        .collect();
    print_table(
        &["round", "trained on", "trim precision", "trim recall"].map(String::from),
        &rows,
    );
    emit(
        &a.common,
        json!({
            "experiment": "spurious", "class": a.class, "rate": a.rate, "tau": tau, "n": c.data.len(),
            "rounds": h.iter().map(|r| round_json(r)).collect::<Vec<_>>(),
        }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn backdoor_args(extra: &[&str]) -> BackdoorArgs {
        let mut argv = vec!["itlm-inspector", "reproduce", "backdoor"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Some(Command::Reproduce(r))) => match r.which {
                Which::Backdoor(b) => b,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn round_lines_show_only_the_figures_there_are() {
        let mut r = RoundRecord {
            round: 2,
            epochs: 1.0,
            trained_on: 90,
            tau: 0.9,
            loss: Vec::new(),
            score: Vec::new(),
            predicted: Vec::new(),
            p_given: Vec::new(),
            probs: Vec::new(),
            kept: Vec::new(),
            relabelled: Vec::new(),
            held_out: Vec::new(),
            clusters: None,
            spectral: Vec::new(),
            transition: Vec::new(),
            metrics: Default::default(),
            generated: None,
            train_secs: 1.0,
            score_secs: 1.0,
        };
        r.metrics.trim = Some(itlm::TrimQuality {
            precision: 0.5,
            recall: 0.25,
            ..Default::default()
        });
        let line = session::round_line(&r, LineStyle::Compact);
        assert_eq!(line, "    round 2: trained on 90 trim P 0.500 R 0.250 (2s)");
        r.metrics.test_acc = Some(0.8);
        r.metrics.test2_acc = Some(0.05);
        assert_eq!(
            session::round_line(&r, LineStyle::Compact),
            "    round 2: trained on 90 test 80.00% test-2 5.00% trim P 0.500 R 0.250 (2s)"
        );
        // A relabel that ran says what it did, none included.
        assert!(!session::round_line(&r, LineStyle::Full).contains("relabelled"));
        r.relabelled = vec![None; 3];
        assert!(session::round_line(&r, LineStyle::Full).contains("  relabelled 0 (no trimmed"));
        r.relabelled[1] = Some(0);
        assert!(session::round_line(&r, LineStyle::Full).ends_with("  relabelled 1"));
    }

    #[test]
    fn reproduce_backdoor_runs_its_protocol_unless_told_otherwise() {
        let a = backdoor_args(&[]);
        assert_eq!(a.itlm.config_over(backdoor_protocol()), backdoor_protocol());
        assert_eq!(a.model.config_over(backdoor_learner()), backdoor_learner());
        let a = backdoor_args(&["--tau", "0.9", "--optimizer", "adamw", "--seed", "3"]);
        let c = a.itlm.config_over(backdoor_protocol());
        assert_eq!(
            (c.tau, c.seed, c.rounds),
            (0.9, 3, backdoor_protocol().rounds)
        );
        let l = a.model.config_over(backdoor_learner());
        assert_eq!(
            (l.optimizer, l.lr),
            (crate::learner::OptimizerKind::Adamw, 1e-3)
        );
        // The protocol restores and cuts by clusters; each can be turned off.
        assert!(backdoor_protocol().restore && backdoor_protocol().clusters);
        let c = backdoor_args(&["--no-clusters"])
            .itlm
            .config_over(backdoor_protocol());
        assert!(!c.clusters && c.restore);
        let c = backdoor_args(&["--no-restore"])
            .itlm
            .config_over(backdoor_protocol());
        assert!(c.clusters && !c.restore);
        // Relabelling chooses the final set itself: neither with it.
        let c = backdoor_args(&["--relabel"])
            .itlm
            .config_over(backdoor_protocol());
        assert!(!c.clusters && !c.restore && c.relabel);
    }
}
