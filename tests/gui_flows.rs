//! Flows in the window: the Project settings dialog's timeouts rebuild them; the Inspector
//! lists those near the selected event.

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

/// The Inspector lists the selected event's nearby flows with the packets each has within
/// ±60 s beside its total, and how it ended (or that it goes on past the span).
#[test]
fn the_inspector_counts_each_nearby_flows_packets_near_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_for(dir.path()));
    settle(&mut h);
    let s = h.state().session.as_ref().unwrap();
    let id = s
        .labels
        .events
        .iter()
        .find(|e| e.class == "motion")
        .expect("a camera event")
        .id;
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::SelectEvent(Some(id)));
    h.run_steps(4);
    let cache = h
        .state()
        .ui
        .inspector_cache
        .clone()
        .expect("inspector filled");
    let lines = cache.2;
    assert!(!lines.is_empty());
    let mut some_inside = false;
    for l in lines.iter().filter(|l| !l.starts_with('…')) {
        // "... · N of M pkts · END"
        let counts = l.split(" · ").find(|p| p.ends_with(" pkts")).expect(l);
        let (n, m) = counts
            .trim_end_matches(" pkts")
            .split_once(" of ")
            .expect(l);
        let (n, m): (u64, u64) = (n.parse().unwrap(), m.parse().unwrap());
        assert!(n <= m && m > 0, "{l}");
        some_inside |= n > 0;
        let end = l.rsplit(" · ").next().unwrap();
        assert!(
            ["goes on", "fin", "rst", "idle", "active", "eof"].contains(&end),
            "{l}"
        );
    }
    assert!(some_inside, "{lines:?}");
}
