//! The Project settings dialog: flow timeouts chosen in the window rebuild the flows.

use egui_kittest::kittest::Queryable;
use labelbench::traffic::{FlowEnd, FlowPreset};

use crate::gui::{app_for, harness, settle};

/// Choosing the zeek preset and applying it saves the project and reloads it with flows
/// assembled by Zeek's timeouts; Esc closes the dialog.
#[test]
fn flow_timeouts_are_chosen_in_project_settings_and_rebuild_the_flows() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_for(dir.path()));
    settle(&mut h);
    let before = h.state().session.as_ref().unwrap().traffic.flows.len();
    assert_eq!(
        h.state()
            .session
            .as_ref()
            .unwrap()
            .traffic
            .flow_timeouts
            .preset,
        FlowPreset::SmartHome
    );
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Project settings…").click();
    h.run_steps(2);
    assert!(h.state().ui.project_settings.open);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(!h.state().ui.project_settings.open, "Esc closes it");
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Project settings…").click();
    h.run_steps(2);
    h.get_by_label("zeek").click();
    h.run_steps(2);
    assert_eq!(
        h.state().ui.project_settings.flows.tcp_idle_ns,
        300_000_000_000
    );
    h.get_by_label("Apply and reload").click();
    settle(&mut h);
    let s = h.state().session.as_ref().unwrap();
    assert_eq!(s.project.flows.preset, FlowPreset::Zeek);
    assert_eq!(s.traffic.flow_timeouts.preset, FlowPreset::Zeek);
    // Shorter UDP and ICMP timeouts: more flows, none lasting past a 60 s gap.
    assert!(
        s.traffic.flows.len() > before,
        "{} vs {before}",
        s.traffic.flows.len()
    );
    assert!(s.traffic.flows.iter().any(|f| f.end == FlowEnd::Idle));
    // The choice is in the project file.
    let text = std::fs::read_to_string(s.project_path.as_ref().unwrap()).unwrap();
    assert!(text.contains("\"preset\": \"zeek\""), "{text}");
}
