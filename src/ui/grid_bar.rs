//! The grid's header: the tabs (Trimmed / Boundary / Kept with their counts), the sort order,
//! the filters (given and predicted class, the truth's kind, a score range, a path substring,
//! the confusion cell), and a legend of the cells' marks.

use egui::{Color32, RichText};

use super::command::{Command, Commands, View};
use super::histogram::{BAD, KEPT, TRIMMED};
use super::view::{DecisionFilter, Filter, GridTab, Lists, Membership, SortKey};

/// The filter fields that are typed (they apply as they are typed).
#[derive(Default)]
pub struct FilterText {
    pub path: String,
}

pub fn grid_bar_ui(
    ui: &mut egui::Ui,
    v: &View,
    lists: &Lists,
    text: &mut FilterText,
    out: &mut Commands,
) {
    let state = v.state;
    let Some(data) = state.data.as_ref() else {
        return;
    };
    let train = &data.train;
    let f = &state.filter;
    let set = |out: &mut Commands, f: Filter| out.push(Command::SetFilter(f));
    ui.horizontal_wrapped(|ui| {
        for (k, tab) in GridTab::ALL.into_iter().enumerate() {
            let n = lists.get(tab).len();
            if ui
                .selectable_label(state.tab == tab, format!("{} ({n})", tab.name()))
                .on_hover_text(format!("Ctrl+{}", k + 1))
                .clicked()
            {
                out.push(Command::SetTab(tab));
            }
        }
        ui.separator();
        keep_with(ui, "sort by", ui.spacing().combo_width);
        let l = ui.label("sort by");
        let mut sort = state.sort;
        egui::ComboBox::from_id_salt("grid_sort")
            .selected_text(sort.key.name())
            .show_ui(ui, |ui| {
                for k in SortKey::ALL {
                    ui.selectable_value(&mut sort.key, k, k.name());
                }
            })
            .response
            .labelled_by(l.id);
        let arrow = if sort.reverse {
            "least suspicious first"
        } else {
            "most suspicious first"
        };
        if ui
            .selectable_label(sort.reverse, arrow)
            .on_hover_text("Reverse the order (most suspicious: highest loss, times trimmed and loss change; lowest p(given) and margin)")
            .clicked()
        {
            sort.reverse = !sort.reverse;
        }
        if sort != state.sort {
            out.push(Command::SetSort(sort));
        }
    });
    // The decisions on a row of their own: beside the tabs, whose counts change with the
    // slider, they wrapped and moved the grid under the pointer.
    ui.horizontal_wrapped(|ui| {
        decisions_ui(ui, v, out);
        if let Some(DecidedCut {
            back,
            out_,
            by_run,
            flagged,
            ..
        }) = v.cut.as_ref().and_then(|cut| decided_cut(state, cut))
        {
            if back + out_ + by_run > 0 {
                ui.label(
                    RichText::new(format!(
                        "decided: {back} trimmed kept, {out_} kept excluded{}; exports flag {}",
                        if by_run > 0 {
                            format!(", {by_run} trimmed relabelled by the run")
                        } else {
                            String::new()
                        },
                        flagged
                    ))
                    .weak(),
                )
                .on_hover_text(
                    "The tabs show the cut at the slider's tau. Your decisions override it where \
                     they disagree: clean.txt, flagged.txt, labels.csv, the cleaned folder and \
                     the next run follow them. A trimmed sample the run relabelled itself \
                     (--relabel) and you left undecided is exported as relabelled (by the run).",
                );
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        let class_combo = |ui: &mut egui::Ui, id: &str, name: &str, value: Option<u32>| {
            keep_with(ui, name, ui.spacing().combo_width);
            let l = ui.label(name);
            let mut c = value;
            egui::ComboBox::from_id_salt(id)
                .selected_text(c.map_or("all".to_string(), |c| train.class_name(c).to_string()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut c, None, "all");
                    for (k, name) in train.classes.iter().enumerate() {
                        ui.selectable_value(&mut c, Some(k as u32), name);
                    }
                })
                .response
                .labelled_by(l.id);
            c
        };
        // An unlabelled set (a flat folder) has no given class to filter on.
        let given = if train.is_unlabelled() {
            f.class
        } else {
            class_combo(ui, "filter_given", "given", f.class)
        };
        if given != f.class {
            set(
                out,
                Filter {
                    class: given,
                    ..f.clone()
                },
            );
        }
        if !state.generative() {
            let pred = class_combo(ui, "filter_predicted", "predicted", f.predicted);
            if pred != f.predicted {
                set(
                    out,
                    Filter {
                        predicted: pred,
                        ..f.clone()
                    },
                );
            }
        }
        if let Some(t) = &data.truth {
            let mut kinds: Vec<&str> = t.kind.iter().map(|k| k.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            keep_with(ui, "kind", ui.spacing().combo_width);
            let l = ui.label("kind");
            let mut k = f.kind.clone();
            egui::ComboBox::from_id_salt("filter_kind")
                .selected_text(k.clone().unwrap_or_else(|| "all".into()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut k, None, "all");
                    for kind in kinds {
                        ui.selectable_value(&mut k, Some(kind.to_string()), kind);
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text("The truth's kind of sample (truth.csv)");
            if k != f.kind {
                set(
                    out,
                    Filter {
                        kind: k,
                        ..f.clone()
                    },
                );
            }
        }
        keep_with(ui, "decision", ui.spacing().combo_width);
        let l = ui.label("decision");
        let mut dec = f.decision;
        egui::ComboBox::from_id_salt("filter_decision")
            .selected_text(dec.map_or("all", |d| d.name()))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut dec, None, "all");
                for d in DecisionFilter::ALL {
                    ui.selectable_value(&mut dec, Some(d), d.name());
                }
            })
            .response
            .labelled_by(l.id);
        if dec != f.decision {
            set(
                out,
                Filter {
                    decision: dec,
                    ..f.clone()
                },
            );
        }
        let mut on = f.score.is_some();
        let range_hint = "Only samples whose loss (the score the cut is made on) is in this range";
        if ui
            .checkbox(&mut on, "loss from")
            .on_hover_text(range_hint)
            .changed()
        {
            let score = on.then(|| {
                v.cut.as_ref().map_or((0.0, 1.0), |c| {
                    let max = c
                        .record
                        .score
                        .iter()
                        .copied()
                        .filter(|s| s.is_finite())
                        .fold(0.0f32, f32::max);
                    (c.cut_value.unwrap_or(0.0), max)
                })
            });
            set(out, Filter { score, ..f.clone() });
        }
        if let Some((lo, hi)) = f.score {
            keep_with(ui, "to", 2.0 * 50.0 + ui.spacing().item_spacing.x);
            let (mut a, mut b) = (lo, hi);
            ui.add(egui::DragValue::new(&mut a).speed(0.01).max_decimals(3))
                .on_hover_text("lowest loss shown");
            ui.label("to");
            ui.add(egui::DragValue::new(&mut b).speed(0.01).max_decimals(3))
                .on_hover_text("highest loss shown");
            if (a, b) != (lo, hi) {
                set(
                    out,
                    Filter {
                        score: Some((a, b.max(a))),
                        ..f.clone()
                    },
                );
            }
        }
        if let Some(r) = v
            .cut
            .as_ref()
            .map(|c| &c.record)
            .filter(|r| !r.held_out.is_empty())
        {
            const HELD_OUT: &str = "held out by the clustering cut";
            let on = f.within.as_ref().is_some_and(|m| m.name == HELD_OUT);
            let count = r.held_out.iter().filter(|&&h| h).count();
            if ui
                .selectable_label(on, format!("held out by clusters ({count})"))
                .on_hover_text(
                    "Only the samples the activation-clustering cut kept out of this round: the \
                     smaller cluster of a class's penultimate activations (under a probe model \
                     trained on every sample) that the early rounds trimmed far more often than \
                     the rest of the class: stamped images that look like their target class",
                )
                .clicked()
            {
                set(
                    out,
                    Filter {
                        within: (!on).then(|| Membership::new(HELD_OUT, r.held_out.clone())),
                        ..f.clone()
                    },
                );
            }
        }
        if let Some(found) = &state.similar {
            use crate::session::similar::{NEAR_DUPLICATE_COSINE, OUTLIER_K};
            let toggles = [
                (
                    &found.duplicates,
                    format!(
                        "duplicates ({})",
                        crate::plural(found.duplicate_samples, "image")
                    ),
                    format!(
                        "{}, {}. Only the samples that have an exact copy (same file content) or \
                         a near copy (centred embeddings with cosine >= {NEAR_DUPLICATE_COSINE}) \
                         in the set; the detail panel lists the copies",
                        found.exact_words, found.near_words
                    ),
                ),
                (
                    &found.outliers,
                    format!("outliers ({})", found.similar.outliers.len()),
                    format!(
                        "Only the samples far from every other (mean cosine distance to their \
                         {OUTLIER_K} nearest neighbours above median + 3 MADs): often not of any \
                         class, or broken"
                    ),
                ),
            ];
            for (m, text, hover) in toggles {
                let on = f.within.as_ref() == Some(m);
                if ui.selectable_label(on, text).on_hover_text(hover).clicked() {
                    set(
                        out,
                        Filter {
                            within: (!on).then(|| m.clone()),
                            ..f.clone()
                        },
                    );
                }
            }
        }
        if let Some(c) = state.image_checks.as_ref().filter(|c| c.any_count > 0) {
            let on = c
                .kinds
                .iter()
                .map(|(_, _, m)| m)
                .chain([&c.any])
                .find(|m| f.within.as_ref() == Some(*m));
            let title = match on {
                Some(m) => format!("image: {}", m.name),
                None => format!("image issues ({})", c.any_count),
            };
            ui.menu_button(title, |ui| {
                let mut pick = |ui: &mut egui::Ui, m: &Membership, text: String, hover: &str| {
                    let is_on = f.within.as_ref() == Some(m);
                    if ui
                        .selectable_label(is_on, text)
                        .on_hover_text(hover)
                        .clicked()
                    {
                        set(
                            out,
                            Filter {
                                within: (!is_on).then(|| m.clone()),
                                ..f.clone()
                            },
                        );
                        ui.close();
                    }
                };
                pick(
                    ui,
                    &c.any,
                    format!("any ({})", c.any_count),
                    "Only the images that fail any of the image checks (CleanVision's \
                     definitions and default thresholds; `itlm-inspector check` writes the \
                     table)",
                );
                for (k, n, m) in &c.kinds {
                    pick(ui, m, c.menu_entry(*k, *n), k.help());
                }
            })
            .response
            .on_hover_text(
                "Images too dark, too light, blurry, near-blank, oddly shaped or sized, grey \
                 in a colour set, or duplicated: bad training data a loss does not see",
            );
        }
        keep_with(ui, "path", 120.0);
        let l = ui.label("path");
        let r = ui
            .add(
                egui::TextEdit::singleline(&mut text.path)
                    .hint_text("part of the file path")
                    .desired_width(120.0),
            )
            .labelled_by(l.id);
        if r.changed() && text.path != f.path {
            set(
                out,
                Filter {
                    path: text.path.clone(),
                    ..f.clone()
                },
            );
        }
        if let Some((g, p)) = f.cell {
            let text = format!(
                "given {} -> predicted {}",
                train.class_name(g),
                train.class_name(p)
            );
            ui.label(RichText::new(text).color(super::accent(ui)));
            if ui.small_button("clear cell filter").clicked() {
                set(
                    out,
                    Filter {
                        cell: None,
                        ..f.clone()
                    },
                );
            }
        }
        if let Some(m) = &f.within {
            keep_with(ui, &format!("only: {}", m.name), 70.0);
            ui.label(RichText::new(format!("only: {}", m.name)).color(super::accent(ui)));
            if ui.small_button("show all").clicked() {
                set(
                    out,
                    Filter {
                        within: None,
                        ..f.clone()
                    },
                );
            }
        }
        if f.is_active() && ui.small_button("clear filters").clicked() {
            text.path.clear();
            set(out, Filter::default());
        }
    });
    legend_ui(ui, state.tab, state.generative(), data.bad.is_some());
}

/// What the marks on the cells mean.
fn legend_ui(ui: &mut egui::Ui, tab: GridTab, generative: bool, truth: bool) {
    ui.horizontal_wrapped(|ui| {
        let small = |t: &str, c: Color32| RichText::new(t).small().color(c);
        if !generative {
            ui.label(small("caption: given -> predicted,", Color32::GRAY));
            ui.label(small("red when they differ", super::DIFFERS));
        }
        if truth {
            ui.label(small("| red corner: truly bad (truth.csv)", BAD));
        }
        if tab == GridTab::Boundary {
            ui.label(small("| blue frame: kept", KEPT));
            ui.label(small("orange frame: trimmed", TRIMMED));
            ui.label(small("| the red bar: where the cut falls", BAD));
        }
    });
}

/// The decisions so far, with undo and redo.
fn decisions_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    let d = &v.state.decide.decisions;
    let c = d.counts();
    let text = if c.decided == 0 {
        "no decisions yet".to_string()
    } else {
        format!("decisions: {c}")
    };
    keep_with(ui, &text, 110.0);
    let r = ui.label(RichText::new(text).strong());
    if let Some(p) = v.state.decide.journal_path() {
        r.on_hover_text(format!("kept in {}", p.display()));
    }
    if ui
        .add_enabled(d.can_undo(), egui::Button::new("Undo").small())
        .on_hover_text("Undo the last decision (Ctrl+Z)")
        .clicked()
    {
        out.push(Command::Undo);
    }
    if ui
        .add_enabled(d.can_redo(), egui::Button::new("Redo").small())
        .on_hover_text("Redo (Ctrl+Shift+Z)")
        .clicked()
    {
        out.push(Command::Redo);
    }
}

/// In a wrapping row, start the next row unless `label` and a field `width` points wide after
/// it fit on this one: a label and its field wrap together (a label ending a row, its combo box
/// starting the next, reads as two unrelated things).
fn keep_with(ui: &mut egui::Ui, label: &str, width: f32) {
    let galley = egui::WidgetText::from(label).into_galley(
        ui,
        Some(egui::TextWrapMode::Extend),
        f32::INFINITY,
        egui::TextStyle::Body,
    );
    let need = galley.size().x + ui.spacing().item_spacing.x + width;
    let room = ui.available_size_before_wrap().x;
    // Not at the start of a row (there, a new row would only add an empty one).
    if room < need && room < ui.max_rect().width() - 1.0 {
        ui.end_row();
    }
}

/// How the user's decisions (and the run's own relabels) move the shown cut's flags.
pub struct DecidedCut {
    /// Trimmed samples the user kept or relabelled.
    pub back: usize,
    /// Kept samples the user excluded.
    pub out_: usize,
    /// Trimmed samples the run relabelled itself (`--relabel`) and the user left undecided.
    pub by_run: usize,
    /// What the exports flag: trimmed and undecided, or excluded.
    pub flagged: usize,
    /// What the cleanlab table marks as label issues: flagged and undecided, or excluded or
    /// relabelled (by the user, or by the run where the user left them undecided).
    pub issues: usize,
}

/// [`DecidedCut`] of `cut`; None without decisions or relabels by the run.
pub fn decided_cut(
    state: &crate::ui::state::AppState,
    cut: &crate::ui::view::Cut,
) -> Option<DecidedCut> {
    use crate::session::Decision;
    // The tabs are the cut's; the exports and the next run put the user's word over it, and
    // the exports count the run's own relabels (--relabel) as relabels.
    let n = cut.kept.len();
    let auto = state.run.as_ref().zip(state.record()).and_then(|(run, r)| {
        crate::export::run_relabels::relabels_in(&run.history, &run.config, r.round, n)
    });
    if state.decide.decisions.counts().decided == 0 && auto.is_none() {
        return None;
    }
    let (mut back, mut out_, mut by_run, mut issues) = (0usize, 0usize, 0usize, 0usize);
    for (i, &kept) in cut.kept.iter().enumerate() {
        let d = state.decision(i);
        issues += usize::from(match d {
            Some(Decision::Keep) => false,
            Some(Decision::Exclude | Decision::Relabel(_)) => true,
            None => !kept || auto.as_ref().is_some_and(|a| a[i].is_some()),
        });
        match (d, kept) {
            (Some(Decision::Keep | Decision::Relabel(_)), false) => back += 1,
            (Some(Decision::Exclude), true) => out_ += 1,
            (None, false) if auto.as_ref().is_some_and(|a| a[i].is_some()) => by_run += 1,
            _ => {}
        }
    }
    Some(DecidedCut {
        back,
        out_,
        by_run,
        flagged: cut.trimmed_count + out_ - back - by_run,
        issues,
    })
}
