//! The window on a real lab: the lanes that matter first, the quiet ones on request, and the
//! wheel that zooms as the hover text says.

use eframe::egui;
use egui_kittest::kittest::{NodeT, Queryable};
use labelbench::gui::{timeline::lanes, App, Settings};

use crate::gui::{harness, settle};

/// The real lab with its IFTTT log and its companion-app notifications.
fn lab_with_ifttt_and_notifications(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    crate::common::real_lab_project(
        dir,
        &[
            "ifttt:ifttt-events.csv",
            "notifications-csv:android-events.csv",
        ],
    )
}

/// On the real lab (two captured devices, dozens of labelled ones) the timeline opens on the
/// devices with traffic, busiest first; the toolbar's toggle adds the devices with labels but
/// no traffic after them.
#[test]
fn the_real_lab_opens_on_the_devices_with_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = lab_with_ifttt_and_notifications(dir.path()) else {
        return;
    };
    let s = crate::common::open_journaled(&proj);
    let mut h = harness(App::with_session(Settings::default(), s));
    settle(&mut h);
    let names: Vec<String> = lanes(h.state()).into_iter().map(|l| l.name).collect();
    // blink-cam-01 has 24,022 packets, schlage-lock-01 11,150.
    assert_eq!(names, ["blink-cam-01", "schlage-lock-01"]);
    let toggle = h.get_by_label_contains("without traffic");
    toggle.click();
    settle(&mut h);
    let all: Vec<String> = lanes(h.state()).into_iter().map(|l| l.name).collect();
    assert!(all.len() > 20, "{all:?}");
    assert_eq!(&all[..2], ["blink-cam-01", "schlage-lock-01"]);
    assert!(h.state().ui.show_quiet);
}

/// The plain mouse wheel over the lanes zooms in time around the pointer.
#[test]
fn the_wheel_zooms_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    let (a, b) = h.state().ui.view.unwrap();
    // Over the middle of the plot area.
    h.input_mut()
        .events
        .push(egui::Event::PointerMoved(egui::pos2(800.0, 300.0)));
    h.run_steps(2);
    for _ in 0..5 {
        h.input_mut().events.push(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Line,
            delta: egui::vec2(0.0, 3.0),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
        });
        h.run_steps(2);
    }
    h.run_steps(20);
    let (c, d) = h.state().ui.view.unwrap();
    assert!(d - c < (b - a) * 9 / 10, "view {a}..{b} became {c}..{d}");
    assert!(c >= a && d <= b, "zoomed in around the pointer");
}

/// After an undo the status line says what was undone (not the step it undid), and a redo
/// says what was redone.
#[test]
fn the_status_line_follows_undo_and_redo() {
    use labelbench::curation::edits::Edit;
    use labelbench::gui::Command;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    let e = h.state().session.as_ref().unwrap().labels.events[0].clone();
    h.state_mut().commands.push(Command::Apply(Edit::Relabel {
        id: e.id,
        from: e.class.clone(),
        to: "sound".into(),
    }));
    settle(&mut h);
    h.state_mut().commands.push(Command::Undo);
    settle(&mut h);
    let msg = h.state().ui.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("undone: ") && msg.contains("sound"),
        "{msg}"
    );
    let _shown = h.get_by_label_contains("undone: ");
    h.state_mut().commands.push(Command::Redo);
    settle(&mut h);
    let msg = h.state().ui.message.clone().unwrap_or_default();
    assert!(msg.starts_with("redone: "), "{msg}");
}

/// A project opened by a relative path is remembered by its absolute path, so that the
/// recent list opens it from any folder.
#[test]
fn recent_projects_are_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let proj = crate::gui::sample_copy(dir.path());
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count() - 1);
    let relative = std::path::PathBuf::from(format!(
        "{up}{}",
        proj.display().to_string().trim_start_matches('/')
    ));
    assert!(relative.is_relative() && relative.is_file());
    let mut h = harness(App::with_settings(Settings::default(), Some(relative)));
    settle(&mut h);
    assert!(h.state().session.is_some(), "{:?}", h.state().errors);
    let recent = &h.state().settings.recent;
    assert!(recent[0].is_absolute(), "{recent:?}");
    assert_eq!(
        recent[0].canonicalize().unwrap(),
        proj.canonicalize().unwrap()
    );
}

/// The legend names every source (colour) and every status (shape).
#[test]
fn the_legend_names_sources_and_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    for want in [
        "ifttt (ifttt-events.csv)",
        "ifttt-trigger (ifttt-actions.csv)",
        "smartthings (smartthings-events.csv)",
        "notifications-jsonl (notifications.jsonl)",
        "duplicate",
        "rejected",
    ] {
        let _shown = h.get_by_label(want);
    }
}

/// Per-device training says which devices got no model and why: on the real lab the Blink
/// camera has one class only; the CLI report and the Training tab both name it.
#[test]
fn devices_without_a_model_are_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = lab_with_ifttt_and_notifications(dir.path()) else {
        return;
    };
    let out = crate::common::run_ok(
        std::process::Command::new(crate::common::bin())
            .arg("train")
            .arg(&proj)
            .args(["--scope", "device", "--json"]),
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let left = r["devices_left_out"].as_array().unwrap();
    let blink = left
        .iter()
        .find(|d| d[0] == "blink-cam-01")
        .unwrap_or_else(|| panic!("{left:?}"));
    assert!(
        blink[1]
            .as_str()
            .unwrap()
            .contains("one class only (motion"),
        "{blink}"
    );
    let s = crate::common::open_journaled(&proj);
    let mut h = harness(App::with_session(Settings::default(), s));
    settle(&mut h);
    h.state_mut().ui.tab = labelbench::gui::Tab::Training;
    h.state_mut().commands.push(labelbench::gui::Command::Train);
    settle(&mut h);
    let _shown = h.get_by_label_contains("no model for: blink-cam-01 (one class only");
}

/// The confusion matrix labels its columns, and "classes across devices" pools device:class
/// into class: on the sample, `on` against `off` over the plugs and lights together, with the
/// events of a cell still behind it.
#[test]
fn the_matrix_has_column_labels_and_a_class_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    h.get_by_label("Training").click();
    h.run_steps(2);
    h.get_by_label("Train model").click();
    settle(&mut h);
    let r = h.state().ui.report.clone().expect("a report");
    for c in r.classes.iter().take(3) {
        let _column = h.get_by_label(&format!("column {c}"));
    }
    h.get_by_label("classes across devices").click();
    settle(&mut h);
    assert!(h.state().ui.report_by_class);
    let _on = h.get_by_label("column on");
    let _off = h.get_by_label("column off");
    let cell = h
        .get_all_by_label_contains("cell on -> off: ")
        .next()
        .expect("the on/off cell");
    let n: usize = cell
        .accesskit_node()
        .label()
        .unwrap()
        .rsplit(": ")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The pooled cell counts what every device's on -> off cells count.
    let pooled: usize = (0..r.classes.len())
        .flat_map(|i| (0..r.classes.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| r.classes[i].ends_with(":on") && r.classes[j].ends_with(":off"))
        .map(|(i, j)| r.confusion[i][j])
        .sum();
    assert_eq!(n, pooled);
}

/// At a coarse zoom a long drag of a marker moves its event by at most the drag bound (two
/// minutes for a minute label), the offset shown while dragging; Alt frees it.
#[test]
fn a_marker_drag_is_bounded_unless_alt_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    // Six hours of the day: still a coarse view (markers that overlap are grouped), with
    // single minute-precision markers to drag.
    let (lo, hi) = h.state().ui.view.unwrap();
    let from = lo + (hi - lo) / 3;
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::SetView(
            from,
            from + 6 * 3_600_000_000_000,
        ));
    settle(&mut h);
    h.run_steps(2);
    let pick = |h: &egui_kittest::Harness<'_, App>| {
        let st = h.state();
        let s = st.session.as_ref().unwrap();
        *st.ui
            .marker_pos
            .iter()
            .find(|(id, p)| {
                let e = s.labels.get(*id).unwrap();
                p.x > 450.0
                    && p.x < 1000.0
                    && e.retime_ns.is_none()
                    && e.precision == labelbench::labels::Precision::Minute
            })
            .expect("a minute-precision marker on screen")
    };
    let drag =
        |h: &mut egui_kittest::Harness<'_, App>, pos: egui::Pos2, alt: bool| -> Option<String> {
            h.hover_at(pos);
            h.run_steps(2);
            if alt {
                h.input_mut()
                    .events
                    .push(egui::Event::ModifiersChanged(egui::Modifiers::ALT));
            }
            h.drag_at(pos);
            h.step();
            let mut shown = None;
            for dx in [10.0, 60.0, 150.0, 300.0] {
                h.hover_at(pos + egui::vec2(dx, 0.0));
                h.step();
                shown = h.state().ui.drag_text.clone().or(shown);
            }
            h.drop_at(pos + egui::vec2(300.0, 0.0));
            h.run_steps(3);
            h.input_mut()
                .events
                .push(egui::Event::ModifiersChanged(egui::Modifiers::NONE));
            settle(h);
            shown
        };
    let (id, pos) = pick(&h);
    let before = {
        let s = h.state().session.as_ref().unwrap();
        s.adjusted_ns(s.labels.get(id).unwrap())
    };
    let shown = drag(&mut h, pos, false).unwrap_or_default();
    let s = h.state().session.as_ref().unwrap();
    let moved = s.adjusted_ns(s.labels.get(id).unwrap()) - before;
    assert_eq!(
        moved,
        labelbench::gui::timeline::drag_bound(labelbench::labels::Precision::Minute)
    );
    assert!(
        shown.starts_with("+120.0 s") && shown.contains("Alt"),
        "{shown}"
    );
    // Alt frees the drag: 300 px at a six-hour zoom is more than an hour.
    let (id2, pos2) = pick(&h);
    let before = {
        let s = h.state().session.as_ref().unwrap();
        s.adjusted_ns(s.labels.get(id2).unwrap())
    };
    drag(&mut h, pos2, true);
    let s = h.state().session.as_ref().unwrap();
    let moved = s.adjusted_ns(s.labels.get(id2).unwrap()) - before;
    assert!(moved > 3_600_000_000_000, "{moved}");
}

/// The New project dialog takes the lab's devices.py and a log whose kind it tells from the
/// content, and the project it writes opens with the lab's devices.
#[test]
fn the_new_project_dialog_takes_devices_py_and_sniffs_the_log() {
    let Some(r) = crate::common::real() else {
        return;
    };
    let lab = r.join("fit-iot-dataset");
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(App::with_settings(Settings::default(), None));
    h.run_steps(2);
    {
        let d = &mut h.state_mut().ui.new_project;
        d.open = true;
        d.project_text = dir.path().join("lab.labelbench.json").display().to_string();
        d.spec.captures = vec![lab.join("pcaps/schlage-lock-01.pcap").display().to_string()];
        d.spec.devices = lab.join("devices/devices.py").display().to_string();
        d.new_path = lab.join("labels/ifttt-actions.csv").display().to_string();
    }
    h.run_steps(2);
    h.get_all_by_label("Add").last().unwrap().click();
    h.run_steps(2);
    let kind = h.state().ui.new_project.spec.sources[0].spec.kind;
    assert_eq!(kind, labelbench::labels::SourceKind::IftttTrigger);
    // The dialog grew by a row: let it settle before clicking its button.
    crate::gui_projects::click_when_still(&mut h, "Create and open");
    settle(&mut h);
    let st = h.state();
    let s = st
        .session
        .as_ref()
        .unwrap_or_else(|| panic!("{:?} {:?}", st.ui.new_project.error, st.errors));
    assert!(s.registry.len() > 50);
    assert!(s.labels.events.len() > 4000);
    assert!(s
        .project
        .devices
        .as_deref()
        .unwrap()
        .ends_with("devices.py"));
}

/// "Compare classifiers" trains tree, forest and extra-trees per device beside the random
/// baseline; the Training tab shows the table (a column per model, a row per device, the
/// best outlined) and the table is saved beside the project as the CLI saves it.
#[test]
fn the_training_tab_compares_classifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    h.get_by_label("Training").click();
    h.run_steps(2);
    h.get_by_label("Compare classifiers").click();
    settle(&mut h);
    let r = h.state().ui.report.clone().expect("a report");
    let c = r.comparison.expect("a comparison");
    assert_eq!(c.models, ["tree", "forest", "extra-trees", "random"]);
    assert!(c.devices.len() >= 5, "{:?}", c.devices);
    let _heading = h.get_by_label("extra-trees");
    let first = &c.devices[0];
    let shown = format!(
        "{:.2} / {:.2}",
        first.scores[0].macro_precision, first.scores[0].macro_recall
    );
    assert!(h.get_all_by_label(&shown).next().is_some(), "{shown}");
    let project = h
        .state()
        .session
        .as_ref()
        .unwrap()
        .project_path
        .clone()
        .unwrap();
    let csv = labelbench::learn::compare::csv_path(&project.with_extension("model_report.json"));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        text.lines().count(),
        1 + 4 * (c.devices.len() + 1),
        "{text}"
    );
}

/// At a day's zoom the markers of a lane that would overlap become one count badge; badges and
/// single markers together hold every event in view on the lanes shown; clicking the largest
/// badge zooms in on its events, which then are single markers.
#[test]
fn overlapping_markers_become_count_badges() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    h.run_steps(2);
    let app = h.state();
    let groups = app.ui.marker_groups.clone();
    assert!(
        !groups.is_empty(),
        "a day of the sample has overlapping markers"
    );
    let (lo, hi) = app.ui.view.unwrap();
    let lanes = lanes(app);
    let shown = app.ui.lane_top..app.ui.lane_top + app.ui.lanes_fit;
    let s = app.session.as_ref().unwrap();
    let in_view = s
        .labels
        .events
        .iter()
        .filter(|e| {
            let t = s.adjusted_ns(e);
            t >= lo - 60_000_000_000
                && t <= hi
                && lanes
                    .iter()
                    .position(|l| l.dev == e.device)
                    .is_some_and(|k| shown.contains(&k))
        })
        .count();
    let drawn: usize = groups.iter().map(|g| g.count).sum::<usize>() + app.ui.marker_pos.len();
    assert_eq!(drawn, in_view);
    let g = groups.iter().max_by_key(|g| g.count).unwrap().clone();
    let label = format!("{} events on {}", g.count, lanes[g.lane].name);
    h.get_all_by_label(&label)
        .next()
        .expect("the badge")
        .click();
    settle(&mut h);
    h.run_steps(2);
    let app = h.state();
    let (lo, hi) = app.ui.view.unwrap();
    assert!(
        lo <= g.lo_ns && hi >= g.hi_ns && hi - lo <= 2 * 3_600_000_000_000,
        "{lo} {hi} {g:?}"
    );
    assert!(
        app.ui.marker_groups.is_empty(),
        "{:?}",
        app.ui.marker_groups
    );
    let s = app.session.as_ref().unwrap();
    let singles = app
        .ui
        .marker_pos
        .iter()
        .filter(|(id, _)| {
            let e = s.labels.get(*id).unwrap();
            let t = s.adjusted_ns(e);
            e.device == lanes[g.lane].dev && t >= g.lo_ns && t <= g.hi_ns
        })
        .count();
    assert!(singles >= g.count, "{singles} of {}", g.count);
}

/// A search in the Devices panel shows a matching hub child under its own hub (drawn as
/// context when the hub itself does not match), in the light theme the harness uses.
#[test]
fn a_device_search_keeps_children_under_their_hub() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    assert!(!h.state().settings.dark);
    for (search, hub, children) in [
        ("light", "hue-hub-01", vec!["hue-light-01", "hue-light-02"]),
        ("multi", "smartthings-hub-01", vec!["smartthings-multi-01"]),
    ] {
        h.state_mut().ui.device_filter = search.into();
        h.run_steps(3);
        // The Devices panel's rows, top to bottom (the panel is the window's left column).
        let mut rows: Vec<(f32, String)> = h
            .query_all(egui_kittest::kittest::by())
            .filter_map(|n| {
                let label = n.accesskit_node().label()?;
                let r = n.rect();
                (r.left() < 200.0 && r.top() > 60.0 && label.contains('-'))
                    .then(|| (r.top(), label))
            })
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let names: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let mut want = vec![hub];
        want.extend(children.iter().copied());
        assert_eq!(names, want, "search {search:?}");
    }
}

/// Text from a log that the fonts cannot draw is replaced by its code point, never a box.
#[test]
fn emoji_are_drawn_or_replaced_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(crate::gui::app_for(dir.path()));
    settle(&mut h);
    let ctx = h.ctx.clone();
    let shown =
        labelbench::gui::theme::drawable(&ctx, "Front door \u{1f513}\u{fe0f} unlocked \u{1fae8}");
    assert!(shown.contains("[U+1FAE8]"), "{shown}");
    assert!(!shown.contains('\u{fe0f}'), "{shown}");
    let font = egui::FontId::proportional(12.0);
    let missing: Vec<char> =
        ctx.fonts_mut(|f| shown.chars().filter(|&c| !f.has_glyph(&font, c)).collect());
    assert!(missing.is_empty(), "{missing:?} in {shown}");
    assert_eq!(labelbench::gui::theme::drawable(&ctx, "plain"), "plain");
}

/// The window on a lab of the real lab's shape (the simulator's 57 network devices and their
/// hub children, one day): lanes busiest first, count badges where markers would overlap.
#[test]
fn snapshot_of_a_lab_sized_timeline() {
    if !crate::gui::have_gpu_renderer() {
        crate::common::missing("a GPU renderer for snapshots (mesa-vulkan-drivers: lavapipe)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(dir.path(), 57, 1, 1, Some(400_000));
    let s = crate::common::open_journaled(&r.project);
    let settings = Settings {
        dark: false,
        tz: "America/New_York".into(),
        ..Default::default()
    };
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .allow_missing_glyphs()
        .wgpu()
        .build_ui_state(
            |ui, app: &mut App| app.frame(ui),
            App::with_session(settings, s),
        );
    settle(&mut h);
    h.run_steps(2);
    assert!(h.state().ui.lanes_total > 20);
    assert!(!h.state().ui.marker_groups.is_empty());
    h.snapshot("lab57_timeline");
}
