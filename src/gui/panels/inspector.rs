//! The Inspector: the selected event, suggestion or device, its evidence and window features.

use super::*;
use crate::gui::app::InspectorCache;
use crate::labels::Event;
use crate::project::session::Session;

pub fn inspector_panel(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::right("inspector")
        .resizable(true)
        .default_size(330.0)
        .show(ui, |ui| {
            ui.heading("Inspector");
            let s = app.session.as_ref().expect("panel needs a session");
            let tz = app.tz();
            let Some(e) = app.ui.selected_event.and_then(|id| s.labels.get(id)) else {
                if let Some(d) = app.ui.selected_device {
                    device_card(app, ui, d, &tz);
                    ui.separator();
                }
                ui.label(
                    RichText::new("Select an event on the timeline or in the table.").italics(),
                );
                return;
            };
            let mut cmds = Vec::new();
            egui::ScrollArea::vertical().id_salt("insp").show(ui, |ui| {
                event_card(ui, s, e, &tz);
                event_actions(ui, s, e, &mut cmds);
                ui.separator();
                edit_history(ui, s, e);
                ui.separator();
                let cache = (&mut app.ui.inspector_cache, app.ui.sugg_generation);
                window_and_flows(ui, s, e, cache, &app.flow_index);
            });
            app.commands.extend(cmds);
        });
}

/// Where the event came from and its times: provenance, raw text, original and adjusted.
fn event_card(ui: &mut egui::Ui, s: &Session, e: &Event, tz: &chrono_tz::Tz) {
    ui.label(RichText::new(format!("event {}", e.id)).strong());
    key_values(ui, "prov", |kv| {
        kv("device", s.event_device_name(e).to_string());
        kv("class", e.class.clone());
        kv(
            "status",
            match e.duplicate_of {
                Some(d) => format!("duplicate of {d}"),
                None => e.status.as_str().into(),
            },
        );
        kv("source", s.source_kind_str(e).into());
        if let Some(src) = s.sources.get(e.source as usize) {
            kv("file", src.spec.path.clone());
            kv("zone", s.source_zone(e.source as usize).to_string());
        }
        kv("line", e.line.to_string());
        kv("logged as", e.time_text.clone());
        kv("precision", e.precision.as_str().into());
        kv("original", crate::timefmt::local(e.original_ns, tz));
        kv("adjusted", crate::timefmt::local(s.adjusted_ns(e), tz));
        kv("UTC", crate::timefmt::utc(s.adjusted_ns(e)));
    });
    ui.label(RichText::new("raw text").small());
    ui.add(
        egui::Label::new(
            RichText::new(theme::drawable(ui.ctx(), &e.raw))
                .monospace()
                .small(),
        )
        .wrap(),
    );
}

/// Reject or Restore, Reset time, and one-second retimes.
fn event_actions(ui: &mut egui::Ui, s: &Session, e: &Event, cmds: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        match e.status {
            Status::Active => {
                if ui
                    .button("Reject")
                    .on_hover_text("Mark this label as wrong (undoable)")
                    .clicked()
                {
                    cmds.push(Command::Apply(Edit::reject(e)));
                }
            }
            _ => {
                if ui
                    .button("Restore")
                    .on_hover_text("Make this label active again")
                    .clicked()
                {
                    cmds.push(Command::Apply(Edit::restore(e)));
                }
            }
        }
        if e.retime_ns.is_some()
            && ui
                .button("Reset time")
                .on_hover_text("Drop the per-event retime")
                .clicked()
        {
            cmds.push(Command::Apply(Edit::Retime {
                id: e.id,
                from: e.retime_ns,
                to: None,
            }));
        }
        for (label, hint, step) in [
            ("-1 s", "Retime one second earlier", -1_000_000_000),
            ("+1 s", "Retime one second later", 1_000_000_000),
        ] {
            if ui.button(label).on_hover_text(hint).clicked() {
                cmds.push(Command::Apply(Edit::Retime {
                    id: e.id,
                    from: e.retime_ns,
                    to: Some(s.adjusted_ns(e) + step),
                }));
            }
        }
    });
}

/// The journal's edits that touch the event, newest first.
fn edit_history(ui: &mut egui::Ui, s: &Session, e: &Event) {
    ui.label(RichText::new("edit history").strong());
    let hist: Vec<String> = s
        .history
        .log
        .iter()
        .filter(|j| {
            let mut ids = vec![];
            j.edit.event_ids(&mut ids);
            ids.contains(&e.id)
        })
        .map(|j| format!("#{} {}: {}", j.seq, j.step, j.edit.describe()))
        .collect();
    if hist.is_empty() {
        ui.label(RichText::new("(no edits)").italics());
    }
    for h in hist.iter().rev().take(20) {
        ui.label(RichText::new(h).small());
    }
}

/// The event's window features and the device's flows near it, computed once per event and
/// label generation (`cache`: the slot and the current generation).
fn window_and_flows(
    ui: &mut egui::Ui,
    s: &Session,
    e: &Event,
    (cache_slot, generation): (&mut Option<InspectorCache>, u64),
    flow_index: &crate::traffic::FlowIndex,
) {
    let w = s.project.window;
    let key = (e.id, generation);
    if cache_slot.as_ref().is_none_or(|c| c.0 != key) {
        let t = s.adjusted_ns(e);
        let td = s.traffic_device(e.device);
        let (lo, hi) = crate::learn::features::EventWindows::new(s, &w).of(e);
        let f = crate::learn::features::window_features(&s.traffic, td, lo, hi);
        let feats: Vec<(String, f64)> =
            crate::learn::features::names().into_iter().zip(f).collect();
        let near = nearby_flows(&s.traffic, flow_index, td, (t, 60_000_000_000));
        let mut lines: Vec<String> = near.iter().take(25).cloned().collect();
        if near.len() > 25 {
            lines.push(format!("… {} more", near.len() - 25));
        }
        *cache_slot = Some((key, feats, lines));
    }
    let cache = cache_slot.as_ref().expect("filled above");
    let span = match w.follow_duration && e.duration_ns > 0 {
        true => format!("its own {:.1} s", e.duration_ns as f64 / 1e9),
        false => format!(
            "-{:.0} s to +{:.0} s",
            w.before_ns as f64 / 1e9,
            w.after_ns as f64 / 1e9
        ),
    };
    ui.label(RichText::new(format!("window features ({span})")).strong());
    egui::Grid::new("feats")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (n, v) in &cache.1 {
                if n.ends_with("_var") {
                    continue;
                }
                ui.label(RichText::new(n).small());
                ui.label(RichText::new(feature_value(*v)).small().monospace());
                ui.end_row();
            }
        });
    ui.separator();
    ui.label(RichText::new("nearby flows (±60 s)").strong());
    for l in &cache.2 {
        ui.label(RichText::new(l).small().monospace());
    }
}

/// The device's flows within `±span` of `t`, one line each: when the flow started relative to
/// `t` (a connection open for days says so), what it is, its packets in the span and in all,
/// and how it ended.
pub(crate) fn nearby_flows(
    traffic: &crate::traffic::Traffic,
    index: &crate::traffic::FlowIndex,
    device: u16,
    (t, span): (i64, i64),
) -> Vec<String> {
    let (lo, hi) = (t - span, t + span);
    let ids: Vec<u32> = index.overlapping(traffic, device, (lo, hi)).collect();
    // Packets of each flow inside the span (a long-lived connection's few keepalives near the
    // event matter, not its whole life's count).
    let mut inside: std::collections::HashMap<u32, u64> = Default::default();
    if let Some(list) = traffic.by_device.get(device as usize) {
        for &i in &list[traffic.device_range(device, lo, hi)] {
            *inside.entry(traffic.packets.flow[i as usize]).or_default() += 1;
        }
    }
    ids.iter()
        .map(|&i| {
            let f = &traffic.flows[i as usize];
            let start = if f.first_ns < lo {
                format!("open {}", crate::numfmt::human_duration(t - f.first_ns))
            } else {
                format!("{:+.1} s", (f.first_ns - t) as f64 / 1e9)
            };
            format!(
                "{start} {} {} · {} of {} pkts · {}",
                f.protocol_name(),
                f.endpoints(),
                inside.get(&i).copied().unwrap_or(0),
                f.packets(),
                if f.last_ns > hi {
                    "goes on"
                } else {
                    f.end.as_str()
                }
            )
        })
        .collect()
}

/// A feature value as read: sums, counts, minima and maxima of lengths are whole numbers and
/// show without decimals; means, spreads and times keep three.
pub(crate) fn feature_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The Inspector's summary of a selected device: identity, where its traffic comes from, and
/// what the captures and the logs hold for it.
pub(crate) fn device_card(app: &App, ui: &mut egui::Ui, d: u16, tz: &chrono_tz::Tz) {
    let Some(s) = app.session.as_ref() else {
        return;
    };
    let Some(dev) = s.registry.devices.get(d as usize) else {
        return;
    };
    ui.label(RichText::new(&dev.name).strong());
    if dev.description.is_empty() {
        ui.label(dev.kind());
    } else {
        ui.label(format!("{} — {}", dev.kind(), dev.description));
    }
    let children: Vec<&str> = s
        .registry
        .devices
        .iter()
        .filter(|c| c.hub.as_deref() == Some(dev.name.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    let mut events = [0usize; 3];
    let mut classes: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in s.labels.events.iter().filter(|e| e.device == d) {
        events[match e.status {
            crate::labels::Status::Active => 0,
            crate::labels::Status::Duplicate => 1,
            crate::labels::Status::Rejected => 2,
        }] += 1;
        *classes.entry(e.class.as_str()).or_default() += 1;
    }
    key_values(ui, "devcard", |kv| {
        kv(
            "MAC",
            match (&dev.mac, &dev.hub) {
                (Some(_), _) => dev.mac_string(),
                (None, Some(_)) => "none (its traffic is its hub's)".into(),
                (None, None) => "none".into(),
            },
        );
        if !dev.ips.is_empty() {
            let ips: Vec<String> = dev.ips.iter().map(|ip| ip.to_string()).collect();
            kv("IP", ips.join(", "));
        }
        if let Some(h) = &dev.hub {
            kv("behind hub", h.clone());
        }
        if !children.is_empty() {
            kv("hub of", children.join(", "));
        }
        if !dev.registered {
            kv("registry", "not registered (seen in the captures)".into());
        }
        match (app.dev_stats.get(d as usize), &dev.hub) {
            (Some(st), _) if st.packets > 0 => kv(
                "traffic",
                format!(
                    "{} packets · {} · {} flows",
                    compact(st.packets),
                    human_bytes(st.bytes),
                    compact(st.flows)
                ),
            ),
            (_, Some(h)) => kv("traffic", format!("none of its own (through {h})")),
            _ => kv("traffic", "none in the captures".into()),
        }
        if let Some(st) = app.dev_stats.get(d as usize) {
            if let (Some(a), Some(b)) = (st.first_ns, st.last_ns) {
                kv("seen", crate::timefmt::local_range(a, b, tz));
            }
        }
        kv(
            "events",
            format!(
                "{} active · {} duplicate · {} rejected",
                events[0], events[1], events[2]
            ),
        );
        if !classes.is_empty() {
            let c: Vec<String> = classes.iter().map(|(k, n)| format!("{k} {n}")).collect();
            kv("classes", c.join(", "));
        }
    });
}

/// A striped two-column grid of named values, as the Inspector's cards show them.
pub(crate) fn key_values(
    ui: &mut egui::Ui,
    id: &str,
    add: impl FnOnce(&mut dyn FnMut(&str, String)),
) {
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            add(&mut |k: &str, v: String| {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            })
        });
}
