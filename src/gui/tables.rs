//! The events table, the suggestions list and the journal view.

use eframe::egui::{self, RichText};

use super::app::{App, Command, TableState};
use super::panels::kind_label;
use super::theme;
use crate::curation::SuggestionKind;
use crate::labels::Status;

const COLS: [(&str, f32); 9] = [
    ("id", 70.0),
    ("time", 215.0),
    ("device", 190.0),
    ("class", 100.0),
    ("source", 130.0),
    ("line", 50.0),
    ("prec.", 55.0),
    ("status", 120.0),
    ("raw text", 400.0),
];

pub fn events_table(app: &mut App, ui: &mut egui::Ui) {
    let Some(s) = app.session.as_ref() else {
        return;
    };
    let tz = app.tz();
    let t = &mut app.ui.table;
    let mut cmds = Vec::new();
    table_filters(ui, t, s);
    let cache_key = format!(
        "{:?}|{}|{:?}",
        t, app.ui.sugg_generation, app.ui.selected_device
    );
    if app.ui.table_cache.as_ref().is_none_or(|c| c.0 != cache_key) {
        let rows = filtered_rows(s, t, app.ui.selected_device);
        app.ui.table_cache = Some((cache_key, rows));
    }
    let rows = app
        .ui
        .table_cache
        .as_ref()
        .map(|c| c.1.clone())
        .unwrap_or_default();
    let selected = app.ui.selected_event;
    let row_h = 18.0;
    // The header scrolls sideways with the rows (the raw-text column is past the panel's
    // edge); outside the scroll area it also widened the panel past its neighbours.
    egui::ScrollArea::horizontal()
        .id_salt("events-h")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            table_header(ui, t);
            egui::ScrollArea::vertical()
                .id_salt("events")
                .auto_shrink([true, false])
                .show_rows(ui, row_h, rows.len(), |ui, range| {
                    for &i in &rows[range] {
                        let e = &s.labels.events[i];
                        if event_row(ui, s, e, (selected == Some(e.id), row_h), &tz) {
                            cmds.push(Command::SelectEvent(Some(e.id)));
                        }
                    }
                });
        });
    app.commands.extend(cmds);
}

/// The filters above the events table: text, status, source, class, selected device.
fn table_filters(ui: &mut egui::Ui, t: &mut TableState, s: &crate::project::session::Session) {
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut t.text)
                .desired_width(200.0)
                .hint_text("filter text…"),
        )
        .on_hover_text("Matches device, class, raw text");
        egui::ComboBox::from_id_salt("fstatus")
            .selected_text(t.status.map(|s| s.as_str()).unwrap_or("any status"))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut t.status, None, "any status");
                for st in [Status::Active, Status::Duplicate, Status::Rejected] {
                    ui.selectable_value(&mut t.status, Some(st), st.as_str());
                }
            })
            .response
            .on_hover_text("Filter by status");
        egui::ComboBox::from_id_salt("fsource")
            .selected_text(
                t.source
                    .and_then(|i| s.sources.get(i as usize))
                    .map(|x| x.spec.kind.as_str())
                    .unwrap_or("any source"),
            )
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut t.source, None, "any source");
                for (i, src) in s.sources.iter().enumerate() {
                    ui.selectable_value(
                        &mut t.source,
                        Some(i as u16),
                        format!("{} ({})", src.spec.kind.as_str(), src.spec.path),
                    );
                }
            })
            .response
            .on_hover_text("Filter by label source");
        egui::ComboBox::from_id_salt("fclass")
            .selected_text(t.class.clone().unwrap_or_else(|| "any class".into()))
            .show_ui(ui, |ui| {
                // Listed only while the menu is open: sorting every event's class each frame
                // costs about half a millisecond a frame on the lab week.
                let mut classes: Vec<&str> =
                    s.labels.events.iter().map(|e| e.class.as_str()).collect();
                classes.sort_unstable();
                classes.dedup();
                ui.selectable_value(&mut t.class, None, "any class");
                for c in classes {
                    ui.selectable_value(&mut t.class, Some(c.to_string()), c);
                }
            })
            .response
            .on_hover_text("Filter by class");
        ui.checkbox(&mut t.only_selected_device, "selected device only")
            .on_hover_text("Only events of the device selected in the Devices panel");
    });
}

/// The events the filters let through, as indices into the label set, in the table's order.
fn filtered_rows(
    s: &crate::project::session::Session,
    t: &TableState,
    sel_dev: Option<u16>,
) -> Vec<usize> {
    let text = t.text.to_lowercase();
    let mut rows: Vec<usize> = (0..s.labels.events.len())
        .filter(|&i| {
            let e = &s.labels.events[i];
            t.status.is_none_or(|st| st == e.status)
                && t.source.is_none_or(|x| x == e.source)
                && t.class.as_ref().is_none_or(|c| c == &e.class)
                && (!t.only_selected_device || sel_dev == Some(e.device))
                && (text.is_empty()
                    || s.event_device_name(e).to_lowercase().contains(&text)
                    || e.class.to_lowercase().contains(&text)
                    || e.raw.to_lowercase().contains(&text))
        })
        .collect();
    let key = |i: &usize| {
        let e = &s.labels.events[*i];
        (s.adjusted_ns(e), e.id)
    };
    match t.sort {
        0 => rows.sort_by_key(|i| s.labels.events[*i].id),
        2 => rows.sort_by(|a, b| {
            s.event_device_name(&s.labels.events[*a])
                .cmp(s.event_device_name(&s.labels.events[*b]))
                .then(key(a).cmp(&key(b)))
        }),
        3 => rows.sort_by(|a, b| {
            s.labels.events[*a]
                .class
                .cmp(&s.labels.events[*b].class)
                .then(key(a).cmp(&key(b)))
        }),
        4 => rows.sort_by_key(|i| (s.labels.events[*i].source, key(i))),
        7 => rows.sort_by_key(|i| (s.labels.events[*i].status, key(i))),
        _ => rows.sort_by_key(key),
    }
    if t.desc {
        rows.reverse();
    }
    rows
}

/// The column headers; a click sorts by the column, a second click reverses.
fn table_header(ui: &mut egui::Ui, t: &mut TableState) {
    ui.horizontal(|ui| {
        for (c, (name, w)) in COLS.iter().enumerate() {
            let arrow = match (t.sort == c, t.desc) {
                (true, true) => " v",
                (true, false) => " ^",
                _ => "",
            };
            if ui
                .add_sized(
                    [*w, 18.0],
                    egui::Button::new(RichText::new(format!("{name}{arrow}")).strong())
                        .frame(false),
                )
                .on_hover_text("Sort by this column (click again to reverse)")
                .clicked()
            {
                if t.sort == c {
                    t.desc = !t.desc;
                } else {
                    t.sort = c;
                    t.desc = false;
                }
            }
        }
    });
}

/// One event's row; true when it was clicked.
fn event_row(
    ui: &mut egui::Ui,
    s: &crate::project::session::Session,
    e: &crate::labels::Event,
    (sel, row_h): (bool, f32),
    tz: &chrono_tz::Tz,
) -> bool {
    let dark = ui.visuals().dark_mode;
    let mut clicked = false;
    ui.horizontal(|ui| {
        let status = match e.duplicate_of {
            Some(d) => format!("dup of {d}"),
            None => e.status.as_str().to_string(),
        };
        let cells = [
            e.id.to_string(),
            crate::timefmt::local(s.adjusted_ns(e), tz),
            s.event_device_name(e).to_string(),
            e.class.clone(),
            s.source_kind_str(e).to_string(),
            e.line.to_string(),
            e.precision.as_str().to_string(),
            status,
            theme::drawable(ui.ctx(), &e.raw),
        ];
        for (c, (_, w)) in COLS.iter().enumerate() {
            let mut txt = RichText::new(&cells[c]);
            if c == 4 {
                txt = txt.color(theme::source_color(e.source as usize, dark));
            }
            if e.status != Status::Active {
                txt = txt.weak();
            }
            let r = ui.add_sized([*w, row_h], egui::Button::selectable(sel, txt).frame(false));
            clicked |= r.clicked();
        }
    });
    clicked
}

pub fn suggestions(app: &mut App, ui: &mut egui::Ui) {
    let dark = ui.visuals().dark_mode;
    let mut cmds = Vec::new();
    suggestion_controls(app, ui, &mut cmds);
    source_offsets(app, ui, &mut cmds);
    ui.separator();
    // Borrowed, not cloned: the lab week has thousands of suggestions and this runs per frame.
    let list: Vec<&crate::curation::Suggestion> = app.visible_suggestions();
    let mut new_sel: Option<String> = None;
    if list.is_empty() {
        ui.label(
            RichText::new(if app.jobs.suggest.is_some() {
                "computing…"
            } else {
                "No suggestions."
            })
            .italics(),
        );
    }
    let selected = app.ui.selected_sugg.as_deref();
    egui::ScrollArea::vertical()
        .id_salt("sugg")
        .auto_shrink([false, false])
        .show_rows(ui, 20.0, list.len(), |ui, range| {
            for sg in &list[range] {
                let sel = selected == Some(sg.key.as_str());
                if suggestion_row(ui, sg, (sel, dark), &mut cmds) {
                    new_sel = Some(sg.key.clone());
                }
            }
        });
    drop(list);
    if new_sel.is_some() {
        app.ui.selected_sugg = new_sel;
    }
    app.commands.extend(cmds);
}

/// The list's kind filter, order, minimum confidence, Accept all and Refresh.
fn suggestion_controls(app: &mut App, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("skind")
            .selected_text(app.ui.sugg_kind.map(kind_label).unwrap_or("all kinds"))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut app.ui.sugg_kind, None, "all kinds");
                for k in SuggestionKind::ALL {
                    ui.selectable_value(&mut app.ui.sugg_kind, Some(k), kind_label(k));
                }
            })
            .response
            .on_hover_text("Show one kind of suggestion");
        egui::ComboBox::from_id_salt("sorder")
            .selected_text(app.ui.sugg_order.label())
            .show_ui(ui, |ui| {
                for o in crate::curation::SuggestionOrder::ALL {
                    ui.selectable_value(&mut app.ui.sugg_order, o, o.label());
                }
            })
            .response
            .on_hover_text("Order of the list (Shift+N / Shift+P step through it in this order)");
        ui.add(egui::Slider::new(&mut app.ui.sugg_min_conf, 0.0..=1.0).text("min confidence"))
            .on_hover_text("Hide suggestions below this confidence");
        let policy = app.accept_all_policy(app.ui.sugg_kind, app.ui.sugg_min_conf);
        let admitted = app
            .visible_suggestions()
            .iter()
            .filter(|s| s.kind == SuggestionKind::Mislabel || policy.admits(s))
            .count();
        let label = match app.ui.sugg_kind {
            Some(k) => format!("Accept all {} ({admitted})", kind_label(k)),
            None => format!("Accept all shown ({admitted})"),
        };
        if ui
            .add_enabled(admitted > 0, egui::Button::new(label))
            .on_hover_text(format!(
                "Apply every shown suggestion that has an edit, then recompute and repeat until \
                 nothing new is found (each round is one undo step); no-traffic rejections only \
                 at confidence {} or more",
                crate::curation::ACCEPT_ALL_NO_TRAFFIC_MIN
            ))
            .clicked()
        {
            cmds.push(Command::AcceptAllShown(
                app.ui.sugg_kind,
                app.ui.sugg_min_conf,
            ));
        }
        if ui
            .button("Refresh")
            .on_hover_text("Recompute suggestions")
            .clicked()
        {
            cmds.push(Command::RefreshSuggestions);
        }
        if app.jobs.suggest.is_some() {
            ui.spinner();
        }
    });
}

/// Per-source clock offsets: a numeric field per source, and its clock steps.
fn source_offsets(app: &mut App, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let dark = ui.visuals().dark_mode;
    if let Some(s) = app.session.as_ref() {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("source offsets (s):").strong()).on_hover_text("Clock offset added to every time of a source; Shift+drag a marker to set it on the timeline");
            for (i, src) in s.sources.iter().enumerate() {
                if app.ui.offset_text.len() <= i {
                    app.ui.offset_text.push(String::new());
                }
                let cur = s.labels.offsets.get(i).copied().unwrap_or(0);
                ui.label(RichText::new(src.spec.kind.as_str()).color(theme::source_color(i, dark)));
                let r = ui.add(egui::TextEdit::singleline(&mut app.ui.offset_text[i]).desired_width(50.0)).on_hover_text(format!("{}: offset in seconds (Enter applies)", src.spec.path));
                if !r.has_focus() && !r.lost_focus() {
                    app.ui.offset_text[i] = format!("{:.1}", cur as f64 / 1e9);
                }
                if r.lost_focus() {
                    if let Ok(v) = app.ui.offset_text[i].trim().parse::<f64>() {
                        let to = (v * 1e9).round() as i64;
                        if to != cur {
                            cmds.push(Command::Apply(crate::curation::edits::Edit::SetSourceOffset { source: i as u16, from: cur, to }));
                        }
                    }
                }
                clock_steps(ui, s, i, cmds);
                clock_drift(ui, s, i, app.ui.view, cmds);
            }
        });
    }
}

/// One suggestion's row: kind, confidence, Accept (or "info"), Dismiss, reason and evidence.
/// True when its text was clicked (it becomes the selected suggestion).
fn suggestion_row(
    ui: &mut egui::Ui,
    sg: &crate::curation::Suggestion,
    (sel, dark): (bool, bool),
    cmds: &mut Vec<Command>,
) -> bool {
    let mut picked = false;
    ui.horizontal(|ui| {
        let r = ui.add_sized(
            [110.0, 18.0],
            egui::Button::selectable(sel, RichText::new(kind_label(sg.kind)).small()).frame(false),
        );
        picked = r.clicked();
        ui.add_sized(
            [40.0, 18.0],
            egui::Label::new(
                RichText::new(format!("{:.2}", sg.confidence))
                    .small()
                    .monospace(),
            ),
        )
        .on_hover_text("confidence");
        if sg.edit.is_some() {
            if ui
                .small_button("Accept")
                .on_hover_text(format!(
                    "Apply: {}",
                    sg.edit.as_ref().map(|e| e.describe()).unwrap_or_default()
                ))
                .clicked()
            {
                cmds.push(Command::Accept(vec![sg.key.clone()]));
            }
        } else {
            ui.add_sized(
                [46.0, 18.0],
                egui::Label::new(RichText::new("info").small().weak()),
            );
        }
        if ui
            .small_button("Dismiss")
            .on_hover_text("Hide this suggestion (no edit)")
            .clicked()
        {
            cmds.push(Command::Dismiss(sg.key.clone()));
        }
        let dev = sg
            .device
            .clone()
            .map(|d| format!("{d}: "))
            .unwrap_or_default();
        // The whole row's text selects, not only the kind on its left.
        picked |= ui
            .add(
                egui::Label::new(RichText::new(format!("{dev}{}", sg.reason)))
                    .sense(egui::Sense::click()),
            )
            .on_hover_text(&sg.evidence)
            .clicked();
        picked |= ui
            .add(
                egui::Label::new(
                    RichText::new(&sg.evidence)
                        .small()
                        .color(theme::muted(dark)),
                )
                .sense(egui::Sense::click()),
            )
            .clicked();
        if picked {
            if let Some(id) = sg.event {
                cmds.push(Command::SelectEvent(Some(id)));
            } else if let Some(t) = sg.at_ns {
                cmds.push(Command::SetView(t - 300_000_000_000, t + 300_000_000_000));
            }
        }
    });
    picked
}

pub fn journal(app: &mut App, ui: &mut egui::Ui) {
    let Some(s) = app.session.as_ref() else {
        return;
    };
    let path = s
        .history
        .journal
        .as_ref()
        .map(|j| j.path.display().to_string())
        .unwrap_or_else(|| "(not journaled)".into());
    ui.label(RichText::new(format!("{} entries in {path}", s.history.log.len())).small());
    let mut cmds = Vec::new();
    egui::ScrollArea::vertical()
        .id_salt("journal")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show_rows(ui, 18.0, s.history.log.len(), |ui, range| {
            for j in &s.history.log[range] {
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format!("#{:<5} {:<5}", j.seq, j.step))
                            .monospace()
                            .small(),
                    );
                    let mut ids = vec![];
                    j.edit.event_ids(&mut ids);
                    let r = ui.add(
                        egui::Label::new(RichText::new(j.edit.describe()))
                            .sense(egui::Sense::click()),
                    );
                    if let Some(&id) = ids.first() {
                        if r.on_hover_text("Click to select its event").clicked() {
                            cmds.push(Command::SelectEvent(Some(id)));
                        }
                    }
                });
            }
        });
    app.commands.extend(cmds);
}

/// A source's clock steps, each with a button that removes it (an edit, undoable).
fn clock_steps(
    ui: &mut egui::Ui,
    s: &crate::project::session::Session,
    i: usize,
    cmds: &mut Vec<Command>,
) {
    let Some(steps) = s.labels.steps.get(i).filter(|v| !v.is_empty()) else {
        return;
    };
    for (k, (at, d)) in steps.iter().enumerate() {
        ui.label(format!(
            "{:+.0} s from {} UTC",
            *d as f64 / 1e9,
            crate::timefmt::utc_short(*at)
        ))
        .on_hover_text(
            "A step of this source's clock: from this logged time on, this much more offset",
        );
        if ui.small_button("remove step").clicked() {
            let mut to = steps.clone();
            to.remove(k);
            cmds.push(Command::Apply(
                crate::curation::edits::Edit::SetSourceSteps {
                    source: i as u16,
                    from: steps.clone(),
                    to,
                },
            ));
        }
    }
}

/// A source's clock drift: its rate per segment, each anchor's offset as a field (Enter
/// applies), a split at the middle of the view, and removal; every change an undoable edit.
fn clock_drift(
    ui: &mut egui::Ui,
    s: &crate::project::session::Session,
    i: usize,
    view: Option<(i64, i64)>,
    cmds: &mut Vec<Command>,
) {
    use crate::curation::{clock, edits::Edit};
    let Some(anchors) = s.labels.drifts.get(i).filter(|v| !v.is_empty()) else {
        return;
    };
    let set = |to: Vec<(i64, i64)>| {
        Command::Apply(Edit::SetSourceDrift {
            source: i as u16,
            from: anchors.clone(),
            to,
        })
    };
    ui.label(format!("drift {}", clock::describe_drift(anchors)))
        .on_hover_text(
            "This source's clock drifts: the offset runs in a line between its anchors (and on \
             beyond them); the timeline's clock lane draws it",
        );
    for (k, &(at, off)) in anchors.iter().enumerate() {
        let id = ui.scope_id().with(("drift-anchor", i, k, at));
        let mut text = ui
            .data(|d| d.get_temp::<String>(id))
            .unwrap_or_else(|| format!("{:+.1}", off as f64 / 1e9));
        let r = ui
            .add(egui::TextEdit::singleline(&mut text).desired_width(50.0))
            .on_hover_text(format!(
                "Offset in seconds at {} UTC (Enter applies)",
                crate::timefmt::utc_short(at)
            ));
        if r.lost_focus() {
            if let Ok(v) = text.trim().parse::<f64>() {
                let to_off = (v * 1e9).round() as i64;
                if to_off != off {
                    let mut to = anchors.clone();
                    to[k].1 = to_off;
                    cmds.push(set(to));
                }
            }
            ui.data_mut(|d| d.remove::<String>(id));
        } else if r.has_focus() {
            ui.data_mut(|d| d.insert_temp(id, text));
        }
    }
    if let Some((a, b)) = view {
        let mid = a + (b - a) / 2;
        if ui
            .small_button("split drift here")
            .on_hover_text(
                "Add an anchor at the middle of the view, on the drift as it is: the two sides \
                 can then be set apart",
            )
            .clicked()
        {
            cmds.push(set(clock::split_at(anchors, mid)));
        }
    }
    if ui.small_button("remove drift").clicked() {
        cmds.push(set(Vec::new()));
    }
}
