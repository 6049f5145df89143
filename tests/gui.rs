//! The workbench driven through egui_kittest: behaviour (click by label, assert on state) and
//! image snapshots of the main views (rendered on the CPU through Mesa's lavapipe).

use std::path::Path;

use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use labelbench::curation::SuggestionKind;
use labelbench::gui::{App, Settings, Tab};
use labelbench::labels::Status;

/// A private copy of the bundled sample project (edits must not touch sample-data/).
pub(crate) fn sample_copy(dir: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(&src).unwrap();
            let name = rel.to_string_lossy();
            if name.ends_with(".edits.jsonl")
                || name.ends_with(".model_report.json")
                || name.ends_with(".model_comparison.csv")
                || name.contains(".labelbench.cache")
                || name.contains(".labelbench.tmp")
            {
                continue;
            }
            if p.is_dir() {
                std::fs::create_dir_all(dir.join(rel)).unwrap();
                stack.push(p);
            } else {
                std::fs::copy(&p, dir.join(rel)).unwrap();
            }
        }
    }
    dir.join("sample.labelbench.json")
}

pub(crate) fn app_for(dir: &Path) -> App {
    let proj = sample_copy(dir);
    let s = crate::common::open_journaled(&proj);
    let settings = Settings {
        dark: false,
        tz: "America/New_York".into(),
        ..Default::default()
    };
    App::with_session(settings, s)
}

/// Steps frames until background jobs are done.
pub(crate) fn settle(h: &mut Harness<'_, App>) {
    // Clicks become commands in one frame and jobs in the next.
    h.run_steps(3);
    for _ in 0..600 {
        h.step();
        let st = h.state();
        if st.commands.is_empty()
            && !st.is_busy()
            && (st.session.is_none() || st.ui.sugg_done_generation >= st.ui.sugg_generation)
        {
            h.run_steps(3);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("background jobs did not finish");
}

/// Selects the first event (as a click in the table would) and returns its id.
fn select_first_event(h: &mut Harness<'_, App>) -> u64 {
    let id = h.state().session.as_ref().unwrap().labels.events[0].id;
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::SelectEvent(Some(id)));
    h.run_steps(2);
    id
}

/// Clicks a device's row in the Devices panel. The Journal tab is opened first so that the
/// bottom panel shows no other label with the device's name.
fn click_device(h: &mut Harness<'_, App>, name: &str) {
    h.get_by_label("Journal").click();
    h.run_steps(2);
    h.get_all_by_label(name).next().expect("device row").click();
    h.run_steps(2);
}

/// Label logs carry emoji and symbols (vendor notification wording) that the bundled fonts
/// lack; data text may render as tofu. The UI's own strings are checked with the strict
/// policy in `ui_chrome_draws_every_glyph`.
/// The sample project in a harness, its background jobs done, with the Suggestions tab open.
fn sample_on_suggestions_tab(dir: &Path) -> Harness<'static, App> {
    let mut h = harness(app_for(dir));
    settle(&mut h);
    h.get_by_label_contains("Suggestions (").click();
    h.run_steps(2);
    h
}

pub(crate) fn harness(app: App) -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .allow_missing_glyphs()
        .build_ui_state(|ui, app: &mut App| app.frame(ui), app)
}

/// A simulated one-day project of `devices` devices (plain ASCII logs) in a harness with the
/// strict missing-glyph policy, its background jobs done.
fn strict_sim_harness(
    dir: &Path,
    devices: usize,
    seed: u64,
    packets: u64,
) -> Harness<'static, App> {
    let r = crate::common::sim(dir, devices, 1, seed, Some(packets));
    let s = crate::common::open_journaled(&r.project);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_ui_state(
            |ui, app: &mut App| app.frame(ui),
            App::with_session(Settings::default(), s),
        );
    settle(&mut h);
    h
}

/// With a project whose logs are plain ASCII, every view renders with the strict
/// missing-glyph policy: the UI's own strings only use glyphs the bundled fonts have.
#[test]
fn ui_chrome_draws_every_glyph() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = strict_sim_harness(dir.path(), 1, 3, 20_000);
    select_first_event(&mut h);
    for tab in ["Suggestions (", "Journal", "Events"] {
        h.get_by_label_contains(tab).click();
        h.run_steps(2);
    }
    h.get_by_label("Reject").click();
    h.run_steps(2);
    h.get_by_label("Training").click();
    h.run_steps(2);
    h.get_by_label("Train model").click();
    settle(&mut h);
    for menu in ["File", "Edit", "View", "Curate", "Train", "Help"] {
        h.get_all_by_label(menu).next().unwrap().click();
        h.run_steps(2);
        h.key_press(egui::Key::Escape);
        h.run_steps(1);
    }
    h.key_press(egui::Key::F1);
    h.run_steps(2);
    h.state_mut().ui.export.open = true;
    h.state_mut().ui.new_project.open = true;
    h.run_steps(2);
    assert!(h.state().ui.report.is_some());
}

#[test]
fn select_accept_undo_drag_train_and_click_a_cell() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_for(dir.path()));
    settle(&mut h);
    click_device(&mut h, "kasa-cam-01");
    let s = h.state().session.as_ref().unwrap();
    let kasa = s.registry.by_name("kasa-cam-01").unwrap();
    assert_eq!(h.state().ui.selected_device, Some(kasa));

    // Accept one duplicate suggestion, then undo it.
    h.get_by_label_contains("Suggestions (").click();
    h.state_mut().ui.sugg_kind = Some(SuggestionKind::Duplicate);
    h.run_steps(2);
    assert!(
        h.state()
            .visible_suggestions()
            .iter()
            .any(|x| x.kind == SuggestionKind::Duplicate),
        "sample has duplicates"
    );
    h.get_all_by_label("Accept")
        .next()
        .expect("an Accept button")
        .click();
    h.run_steps(2);
    let dups = |h: &Harness<'_, App>| {
        h.state()
            .session
            .as_ref()
            .unwrap()
            .labels
            .events
            .iter()
            .filter(|e| e.status == Status::Duplicate)
            .count()
    };
    assert_eq!(dups(&h), 1);
    assert!(h.state().session.as_ref().unwrap().history.can_undo());
    h.get_by_label("Undo").click();
    h.run_steps(2);
    assert_eq!(dups(&h), 0);
    assert!(h.state().session.as_ref().unwrap().history.can_redo());

    // Drag a marker: one retime edit when the drag ends.
    let (id, pos) = {
        let st = h.state();
        let (lo, hi) = st.ui.view.unwrap();
        let s = st.session.as_ref().unwrap();
        *st.ui
            .marker_pos
            .iter()
            .find(|(id, p)| {
                let e = s.labels.get(*id).unwrap();
                let t = s.adjusted_ns(e);
                p.x > 400.0 && p.x < 1100.0 && t > lo && t < hi && e.retime_ns.is_none()
            })
            .expect("a marker on screen")
    };
    let before = h.state().session.as_ref().unwrap().history.log.len();
    h.hover_at(pos);
    h.run_steps(2);
    h.drag_at(pos);
    h.step();
    for dx in [5.0, 15.0, 30.0, 40.0] {
        h.hover_at(pos + egui::vec2(dx, 0.0));
        h.step();
    }
    h.drop_at(pos + egui::vec2(40.0, 0.0));
    h.run_steps(3);
    let s = h.state().session.as_ref().unwrap();
    let e = s.labels.get(id).unwrap();
    assert!(
        e.retime_ns.is_some_and(|t| t > e.original_ns),
        "marker drag retimed the event later: {e:?}"
    );
    assert_eq!(s.history.log.len(), before + 1, "one edit for one drag");

    // Train in the background, then click a confusion cell and one of its events.
    h.get_by_label("Training").click();
    h.run_steps(2);
    h.get_by_label("Train model").click();
    settle(&mut h);
    assert!(h.state().ui.report.is_some(), "{:?}", h.state().errors);
    assert_eq!(h.state().ui.tab, Tab::Training);
    let cell = h
        .get_all_by_label_contains("cell ")
        .find(|n| {
            n.accesskit_node()
                .label()
                .is_some_and(|l| !l.ends_with(": 0"))
        })
        .expect("a non-empty cell");
    cell.click();
    h.run_steps(2);
    let (i, j) = h.state().ui.cell.expect("a cell is selected");
    let r = h.state().ui.report.clone().unwrap();
    let first = r.cell_events[i][j][0];
    h.get_all_by_label_contains(&format!("{first} "))
        .next()
        .expect("event row")
        .click();
    h.run_steps(2);
    assert_eq!(h.state().ui.selected_event, Some(first));
}

#[test]
fn keyboard_undo_redo_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_for(dir.path()));
    settle(&mut h);
    let id = select_first_event(&mut h);
    h.get_by_label("Reject").click();
    h.run_steps(2);
    let status = |h: &Harness<'_, App>| {
        h.state()
            .session
            .as_ref()
            .unwrap()
            .labels
            .get(id)
            .unwrap()
            .status
    };
    assert_eq!(status(&h), Status::Rejected);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(status(&h), Status::Active);
    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    h.run_steps(2);
    assert_eq!(status(&h), Status::Rejected);
    h.key_press(egui::Key::F1);
    h.run_steps(2);
    h.get_by_label("Keyboard shortcuts");
    // The journal holds all three steps.
    assert_eq!(h.state().session.as_ref().unwrap().history.log.len(), 3);
}

pub(crate) fn have_gpu_renderer() -> bool {
    // lavapipe (mesa-vulkan-drivers) provides a CPU Vulkan device; CI installs it.
    Path::new("/usr/share/vulkan/icd.d")
        .read_dir()
        .is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().contains("lvp")))
        })
}

#[test]
fn snapshots_of_the_main_views() {
    if !have_gpu_renderer() {
        crate::common::missing("a GPU renderer for snapshots (mesa-vulkan-drivers: lavapipe)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .allow_missing_glyphs()
        .wgpu()
        .build_ui_state(|ui, app: &mut App| app.frame(ui), app_for(dir.path()));
    settle(&mut h);
    h.snapshot("main_timeline");
    h.state_mut().commands.push(labelbench::gui::Command::Train);
    settle(&mut h);
    // The fit time varies from run to run; everything else in the view is deterministic.
    h.state_mut()
        .ui
        .report
        .as_mut()
        .expect("trained")
        .fit_seconds = 0.0;
    h.run_steps(2);
    h.snapshot("training_confusion");
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::CompareModels);
    settle(&mut h);
    h.state_mut()
        .ui
        .report
        .as_mut()
        .expect("compared")
        .fit_seconds = 0.0;
    h.run_steps(2);
    h.snapshot("training_comparison");
}

/// The clock lane under the timeline: one source that drifts and one that steps, each drawn
/// as its offset curve with the events it retimed.
#[test]
fn snapshot_of_the_clock_lane() {
    if !have_gpu_renderer() {
        crate::common::missing("a GPU renderer for snapshots (mesa-vulkan-drivers: lavapipe)");
        return;
    }
    const S: i64 = 1_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_for(dir.path());
    let s = app.session.as_mut().unwrap();
    let (t0, t1) = {
        let ts = s.labels.events.iter().map(|e| e.original_ns);
        (ts.clone().min().unwrap(), ts.max().unwrap())
    };
    s.apply(labelbench::curation::edits::Edit::SetSourceDrift {
        source: 0,
        from: vec![],
        to: vec![(t0, 0), (t1, -40 * S)],
    })
    .unwrap();
    s.apply(labelbench::curation::edits::Edit::SetSourceSteps {
        source: 1,
        from: vec![],
        to: vec![(t0 + (t1 - t0) / 2, -57 * S)],
    })
    .unwrap();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .allow_missing_glyphs()
        .wgpu()
        .build_ui_state(|ui, app: &mut App| app.frame(ui), app);
    settle(&mut h);
    h.get_by_label_contains("clock lane: 2 sources");
    h.snapshot("clock_lane");
}

/// A capture box that wrote 1970 until NTP set its clock: the window opens at once on the
/// 51 years between, with a few bins, the device's lane and the capture's span, not a bin per
/// 10 s of those years (gigabytes) before the first frame.
#[test]
fn a_clock_jump_of_decades_opens_at_once() {
    use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
    let dir = tempfile::tempdir().unwrap();
    let mut h = PcapHeader::new();
    h.network = Linktype(1);
    let mut pcap = h.to_vec_raw().unwrap();
    let mut frame = vec![0xff; 6];
    frame.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    frame.resize(60, 0);
    for ts_sec in [5, 6, 1_615_180_000, 1_615_180_030] {
        let b = LegacyPcapBlock {
            ts_sec,
            ts_usec: 0,
            caplen: 60,
            origlen: 60,
            data: &frame,
        };
        pcap.extend(b.to_vec_raw().unwrap());
    }
    std::fs::write(dir.path().join("boot.pcap"), pcap).unwrap();
    std::fs::write(
        dir.path().join("devices.csv"),
        "name,mac,ip,description,hub\nplug,02:00:00:00:00:01,,,\n",
    )
    .unwrap();
    let mut p = labelbench::project::Project::new("boot");
    p.captures = vec!["boot.pcap".into()];
    p.devices = Some("devices.csv".into());
    let proj = dir.path().join("boot.labelbench.json");
    p.save(&proj).unwrap();
    let s = crate::common::open_journaled(&proj);
    let mut h = harness(App::with_session(Settings::default(), s));
    settle(&mut h);
    let py = h.state().pyramid.clone().expect("bins built");
    for l in &py.levels {
        assert!(l.bins.iter().map(|b| b.k.len()).sum::<usize>() <= 4);
    }
    assert_eq!(py.end_ns - py.start_ns, (1_615_180_030 - 5) * 1_000_000_000);
    assert!(h.query_by_label_contains("plug").is_some());
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
}

/// A lab with more devices than fit: lanes keep a readable height, the toolbar pages through
/// them, and selecting an event elsewhere scrolls its lane into view. Strict glyph policy, so
/// the paging buttons' arrows must be in the bundled fonts.
#[test]
fn many_lanes_scroll_and_follow_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = strict_sim_harness(dir.path(), 30, 4, 30_000);
    let lanes = labelbench::gui::timeline::lanes(h.state());
    let (fit, n) = (h.state().ui.lanes_fit, h.state().ui.lanes_total);
    assert_eq!(n, lanes.len());
    assert!(fit >= 5 && fit < n, "fit {fit} of {n}");
    assert_eq!(h.state().ui.lane_top, 0);
    h.get_by_label(&format!("1-{fit} of {n}"));
    // Markers are drawn for shown lanes only.
    let shown_devs: Vec<u16> = lanes[..fit].iter().map(|l| l.dev).collect();
    let dev_of = |id: u64| {
        let s = h.state().session.as_ref().unwrap();
        s.labels.events.iter().find(|e| e.id == id).unwrap().device
    };
    let drawn: Vec<u64> = h.state().ui.marker_pos.iter().map(|m| m.0).collect();
    assert!(!drawn.is_empty());
    assert!(drawn.iter().all(|&id| shown_devs.contains(&dev_of(id))));
    // Page down, then back up.
    h.get_by_label("Down").click();
    h.run_steps(2);
    let top = (fit - 1).min(n - fit);
    assert_eq!(h.state().ui.lane_top, top);
    h.get_by_label(&format!("{}-{} of {n}", top + 1, top + fit));
    h.get_by_label("Up").click();
    h.run_steps(2);
    assert_eq!(h.state().ui.lane_top, 0);
    // Selecting (as the table does) an event of the last lane brings that lane into view.
    let last = lanes.last().unwrap().dev;
    let id = {
        let s = h.state().session.as_ref().unwrap();
        s.labels
            .events
            .iter()
            .find(|e| e.device == last)
            .map(|e| e.id)
    };
    let Some(id) = id else {
        panic!("the last lane has events");
    };
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::SelectEvent(Some(id)));
    h.run_steps(3);
    let (top, fit) = (h.state().ui.lane_top, h.state().ui.lanes_fit);
    assert!(top < n && n - 1 < top + fit, "top {top} fit {fit} n {n}");
    assert!(h.state().ui.marker_pos.iter().any(|m| m.0 == id));
    // So does picking a device in the device list.
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::SelectDevice(Some(lanes[0].dev)));
    h.run_steps(3);
    assert_eq!(h.state().ui.lane_top, 0);
}

/// The bottom panel keeps its height when a tab has little to show (Training before a model),
/// so the timeline above does not jump at every tab switch.
#[test]
fn switching_tabs_keeps_the_panel_height() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = strict_sim_harness(dir.path(), 4, 2, 5_000);
    let tab_y = |h: &Harness<'_, App>| h.get_by_label("Events").rect().min.y;
    let y0 = tab_y(&h);
    for tab in ["Training", "Journal", "Suggestions (", "Events"] {
        h.get_by_label_contains(tab).click();
        h.run_steps(3);
        assert_eq!(tab_y(&h), y0, "after opening {tab}");
    }
}

/// "Taller" gives the tabs most of the window (a confusion matrix of many classes needs it)
/// and "Shorter" brings back the height they had.
#[test]
fn the_tabs_panel_can_be_made_taller_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = strict_sim_harness(dir.path(), 4, 2, 5_000);
    let tab_y = |h: &Harness<'_, App>| h.get_by_label("Events").rect().min.y;
    let y0 = tab_y(&h);
    h.get_by_label("Taller").click();
    h.run_steps(3);
    assert!(h.state().ui.tall_tabs);
    let y1 = tab_y(&h);
    assert!(y1 < y0 - 150.0, "the tab bar moved from {y0} to {y1}");
    h.get_by_label("Shorter").click();
    h.run_steps(3);
    assert!(!h.state().ui.tall_tabs);
    assert_eq!(tab_y(&h), y0);
}

/// Dialogs open in the middle of the window, not over the menu bar in its corner.
#[test]
fn dialogs_open_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = strict_sim_harness(dir.path(), 4, 3, 5_000);
    h.get_by_label("Export…").click();
    h.run_steps(3);
    let title = h.get_by_label("Export dataset").rect();
    assert!(
        title.center().x > 500.0 && title.center().x < 1100.0 && title.min.y > 150.0,
        "{title:?}"
    );
}

/// Esc closes the open dialog first and clears the selection only after that.
#[test]
fn escape_closes_the_dialog_before_clearing_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = strict_sim_harness(dir.path(), 4, 5, 5_000);
    let id = select_first_event(&mut h);
    h.get_by_label("Export…").click();
    h.run_steps(2);
    assert!(h.state().ui.export.open);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(!h.state().ui.export.open);
    assert_eq!(h.state().ui.selected_event, Some(id));
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().ui.selected_event, None);
}

/// The suggestion list can be ordered by confidence, and Shift+N walks it in that order.
#[test]
fn suggestions_can_be_listed_most_confident_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample_on_suggestions_tab(dir.path());
    let confs = |h: &Harness<'_, App>| -> Vec<f64> {
        h.state()
            .visible_suggestions()
            .iter()
            .map(|s| s.confidence)
            .collect()
    };
    let before = confs(&h);
    assert!(
        before.windows(2).any(|w| w[0] < w[1]),
        "the sample's kind order is not already by confidence"
    );
    h.get_by_value("by kind").click();
    h.run_steps(2);
    h.get_by_label("most confident first").click();
    h.run_steps(2);
    let after = confs(&h);
    assert_eq!(after.len(), before.len());
    assert!(after.windows(2).all(|w| w[0] >= w[1]), "{after:?}");
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::N);
    h.run_steps(2);
    let first = h.state().visible_suggestions()[0].key.clone();
    assert_eq!(h.state().ui.selected_sugg.as_deref(), Some(first.as_str()));
}

/// Selecting a device shows its card in the Inspector: a hub lists the devices behind it and
/// its traffic; a device behind a hub says its traffic is the hub's.
#[test]
fn selecting_a_device_shows_its_card() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_for(dir.path()));
    settle(&mut h);
    click_device(&mut h, "hue-hub-01");
    h.get_by_label("hue-light-01, hue-light-02");
    h.get_by_label_contains("k packets · ");
    click_device(&mut h, "hue-light-01");
    h.get_by_label("none of its own (through hue-hub-01)");
    h.get_by_label_contains("0 duplicate");
}

/// A suggestion is selected by clicking anywhere in its text, not only its kind: its event
/// becomes the selection (and the Inspector's subject).
#[test]
fn clicking_a_suggestions_text_selects_its_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample_on_suggestions_tab(dir.path());
    let sg = h
        .state()
        .visible_suggestions()
        .iter()
        .find(|s| s.event.is_some())
        .map(|s| (**s).clone())
        .expect("the sample has suggestions about events");
    assert_eq!(h.state().ui.selected_event, None);
    let dev = sg
        .device
        .clone()
        .map(|d| format!("{d}: "))
        .unwrap_or_default();
    h.get_by_label(&format!("{dev}{}", sg.reason)).click();
    h.run_steps(3);
    assert_eq!(h.state().ui.selected_sugg.as_deref(), Some(sg.key.as_str()));
    assert_eq!(h.state().ui.selected_event, sg.event);
}

/// The F1 help is the command table: every shortcut it defines is listed with what it does,
/// and a shortcut runs through a command (Ctrl+E shows the Export dialog).
#[test]
fn the_help_lists_the_command_table_and_shortcuts_run_commands() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app_for(dir.path()));
    settle(&mut h);
    h.key_press(egui::Key::F1);
    h.run_steps(2);
    for b in labelbench::gui::keys::BINDINGS {
        // Some keys ("+", "-") are toolbar buttons too: at least one label each.
        assert!(h.query_all_by_label(b.keys).count() >= 1, "{}", b.keys);
        assert!(h.query_all_by_label(b.does).count() >= 1, "{}", b.does);
    }
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(!h.state().ui.help);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    h.run_steps(2);
    assert!(h.state().ui.export.open);
}

/// "Accept all shown" runs the curation to a fixed point: afterwards nothing accept-all would
/// take is left, a dismissed suggestion was not applied, and the rounds undo one by one.
#[test]
fn accept_all_shown_runs_to_a_fixed_point_and_skips_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample_on_suggestions_tab(dir.path());
    let first_dup = h
        .state()
        .visible_suggestions()
        .iter()
        .find(|x| x.kind == SuggestionKind::Duplicate)
        .map(|x| (x.key.clone(), x.event.unwrap()))
        .expect("the sample has duplicates");
    h.state_mut().ui.dismissed.insert(first_dup.0.clone());
    h.run_steps(2);
    h.get_by_label_contains("Accept all shown (").click();
    h.run_steps(2);
    let s = h.state().session.as_ref().unwrap();
    let ev = s.labels.get(first_dup.1).unwrap();
    assert_eq!(
        ev.status,
        Status::Active,
        "a dismissed suggestion is not applied"
    );
    let policy = h
        .state()
        .accept_all_policy(None, h.state().ui.sugg_min_conf);
    let left: Vec<_> = labelbench::curation::suggest(s, &Default::default())
        .into_iter()
        .filter(|x| policy.admits(x))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
    let steps = s.history.log.len();
    assert!(steps >= 2, "accepted in rounds: {steps}");
    assert!(h
        .state()
        .ui
        .message
        .as_deref()
        .is_some_and(|m| m.contains("until nothing new")));
}

/// A source's clock drift is listed beside its offset, drawn in the clock lane under the
/// timeline, and can be split at the view and removed (undoable edits).
#[test]
fn a_clock_drift_is_drawn_split_and_removed() {
    const S: i64 = 1_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample_on_suggestions_tab(dir.path());
    let (t0, t1) = {
        let s = h.state().session.as_ref().unwrap();
        let ts: Vec<i64> = s.labels.events.iter().map(|e| e.original_ns).collect();
        (*ts.iter().min().unwrap(), *ts.iter().max().unwrap())
    };
    let drift = labelbench::curation::edits::Edit::SetSourceDrift {
        source: 0,
        from: vec![],
        to: vec![(t0, 0), (t1, -40 * S)],
    };
    h.state_mut()
        .session
        .as_mut()
        .unwrap()
        .apply(drift)
        .unwrap();
    h.run_steps(3);
    h.get_by_label_contains("clock lane: 1 source");
    h.get_by_label_contains("drift -");
    h.get_by_label("split drift here").click();
    h.run_steps(2);
    let s = h.state().session.as_ref().unwrap();
    let a = s.labels.drifts[0].clone();
    assert_eq!(a.len(), 3, "{a:?}");
    // A split keeps the curve: the middle anchor lies on the line.
    let mid = labelbench::curation::clock::drift_at(&[(t0, 0), (t1, -40 * S)], a[1].0);
    assert!((a[1].1 - mid).abs() <= 1, "{a:?}");
    h.get_by_label("remove drift").click();
    h.run_steps(3);
    let s = h.state().session.as_ref().unwrap();
    assert!(s.labels.drifts[0].is_empty());
    assert!(h.query_by_label_contains("clock lane:").is_none());
    // Undo brings the split drift back.
    h.state_mut().session.as_mut().unwrap().undo().unwrap();
    assert_eq!(h.state().session.as_ref().unwrap().labels.drifts[0], a);
}

/// A source's clock step is listed beside its offset and can be removed (an undoable edit).
#[test]
fn a_clock_step_is_shown_and_removed_from_the_suggestions_tab() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample_on_suggestions_tab(dir.path());
    let step = labelbench::curation::edits::Edit::SetSourceSteps {
        source: 1,
        from: vec![],
        to: vec![(1_615_257_900_000_000_000, -57_000_000_000)],
    };
    h.state_mut().session.as_mut().unwrap().apply(step).unwrap();
    h.run_steps(2);
    h.get_by_label_contains("-57 s from");
    h.get_by_label("remove step").click();
    h.run_steps(2);
    let s = h.state().session.as_ref().unwrap();
    assert!(s.labels.steps[1].is_empty());
    assert!(s.history.can_undo());
}
