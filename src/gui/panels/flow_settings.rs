//! Flow timeouts in the GUI: the editor the New project and Project settings dialogs share,
//! and the Project settings dialog, which applies new timeouts by reloading the project.

use super::*;
use crate::traffic::{FlowPreset, FlowTimeouts};

/// The Project settings dialog's state: the timeouts being edited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProjectSettingsDialog {
    pub open: bool,
    pub flows: FlowTimeouts,
}

/// A preset chooser and the single timeouts in seconds. Choosing a preset sets every value;
/// changing a value makes the set `custom`.
pub(crate) fn flow_timeouts_editor(ui: &mut egui::Ui, t: &mut FlowTimeouts, id: &str) {
    ui.horizontal(|ui| {
        ui.label("preset")
            .on_hover_text("When a flow ends: see docs/flows.md");
        for p in FlowPreset::NAMED {
            if ui
                .selectable_label(t.preset == p, p.as_str())
                .on_hover_text(preset_help(p))
                .clicked()
            {
                *t = FlowTimeouts::preset(p);
            }
        }
        if t.preset == FlowPreset::Custom {
            ui.label(RichText::new("custom").italics())
                .on_hover_text(preset_help(FlowPreset::Custom));
        }
    });
    let before = *t;
    egui::Grid::new((id, "values")).num_columns(2).show(ui, |ui| {
        seconds_row(ui, "TCP idle", &mut t.tcp_idle_ns, "A TCP flow ends after this long without a packet");
        seconds_row(ui, "UDP idle", &mut t.udp_idle_ns, "A UDP flow ends after this long without a packet");
        seconds_row(ui, "other idle", &mut t.other_idle_ns, "ICMP and layer-2 flows end after this long without a packet");
        let mut on = t.active_ns.is_some();
        ui.checkbox(&mut on, "active timeout")
            .on_hover_text("End any flow once it has lasted this long (off: a flow is a connection, however long it lives)");
        let mut a = t.active_ns.unwrap_or(1_800_000_000_000);
        ui.add_enabled(on, seconds(&mut a));
        ui.end_row();
        t.active_ns = on.then_some(a);
        seconds_row(ui, "TCP linger", &mut t.linger_ns, "A closed TCP connection keeps late ACKs and retransmissions this long");
    });
    if *t != before {
        t.preset = if *t == FlowTimeouts::preset(before.preset) {
            before.preset
        } else {
            FlowPreset::Custom
        };
    }
    if let Err(e) = t.check() {
        ui.colored_label(theme::error(ui.visuals().dark_mode), e);
    }
}

fn preset_help(p: FlowPreset) -> &'static str {
    match p {
        FlowPreset::SmartHome => "TCP idle 900 s, UDP and other 120 s, no active timeout: cloud connections with keepalives minutes apart stay one flow",
        FlowPreset::Nfstream => "nfstream's defaults: idle 120 s, active 1800 s",
        FlowPreset::Zeek => "Zeek's defaults: TCP inactivity 300 s, UDP and ICMP 60 s, no active timeout",
        FlowPreset::Custom => "values set one by one",
    }
}

fn seconds(ns: &mut i64) -> egui::DragValue<'_> {
    egui::DragValue::from_get_set(move |v| {
        if let Some(v) = v {
            *ns = (v * 1e9).round() as i64;
        }
        *ns as f64 / 1e9
    })
    .range(0.0..=86_400.0 * 30.0)
    .speed(1.0)
    .suffix(" s")
}

fn seconds_row(ui: &mut egui::Ui, label: &str, ns: &mut i64, help: &str) {
    ui.label(label).on_hover_text(help);
    ui.add(seconds(ns)).on_hover_text(help);
    ui.end_row();
}

pub(crate) fn project_settings_dialog(app: &mut App, ctx: &egui::Context) {
    if !app.ui.project_settings.open {
        return;
    }
    let Some(s) = app.session.as_ref() else {
        app.ui.project_settings.open = false;
        return;
    };
    let (current, flows_now) = (s.project.flows, s.traffic.flows.len());
    let mut open = true;
    let mut apply = false;
    dialog("Project settings", ctx)
        .open(&mut open)
        .show(ctx, |ui| {
            ui.label(RichText::new("Flows").strong());
            ui.label(format!(
                "{} flows now, ended by {}",
                crate::numfmt::grouped(flows_now as u64),
                current.describe()
            ));
            let d = &mut app.ui.project_settings;
            flow_timeouts_editor(ui, &mut d.flows, "settings-flows");
            let ready = d.flows != current && d.flows.check().is_ok();
            if ui
                .add_enabled(ready, egui::Button::new("Apply and reload"))
                .on_hover_text("Save the project with these timeouts and rebuild its flows")
                .on_disabled_hover_text("Change a timeout first")
                .clicked()
            {
                apply = true;
            }
        });
    if apply {
        let flows = app.ui.project_settings.flows;
        app.commands.push(Command::SetFlowTimeouts(flows));
        app.ui.project_settings.open = false;
    }
    if !open {
        app.ui.project_settings.open = false;
    }
}
