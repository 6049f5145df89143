//! Projects in the window: creating one from dropped files or a folder in the New project
//! dialog, adding a label source, and what the window says when a project cannot be opened.

use std::path::Path;

use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use labelbench::gui::{App, Settings};

use crate::gui::{harness, sample_copy, settle};

/// Clicks the widget labelled `label` once it stops moving: a dialog that has just grown
/// (dropped files add rows) is laid out again over the next frames and its button moves
/// (15 px here), so a click at its first place misses it.
pub(crate) fn click_when_still(h: &mut Harness<'_, App>, label: &str) {
    let mut at = h.get_by_label(label).rect();
    for _ in 0..20 {
        h.step();
        let now = h.get_by_label(label).rect();
        if now == at {
            break;
        }
        at = now;
    }
    h.get_by_label(label).click();
}

/// A file dropped on the window.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Opening a broken project shows the error (naming the file and line) in place; no panic.
#[test]
fn a_broken_project_shows_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.labelbench.json");
    std::fs::write(&p, "{\n  \"version\": 1,\n  \"captures\": [\n").unwrap();
    let app = App::with_settings(Settings::default(), Some(p));
    let mut h = harness(app);
    settle(&mut h);
    assert!(h.state().session.is_none());
    let errs = h.state().errors.join("\n");
    assert!(
        errs.contains("broken.labelbench.json") && errs.contains("line"),
        "{errs}"
    );
    // Counted in the status bar, singular for one.
    let n = h.state().errors.len();
    h.get_by_label(&match n {
        1 => "1 problem".to_string(),
        n => format!("{n} problems"),
    });
    h.get_by_label("Open project…");
}

/// Clicks "Create and open" in the New project dialog and checks that the new project is
/// loaded with `packets` packets and no error.
fn create_and_open(h: &mut Harness<'_, App>, packets: u64) {
    click_when_still(h, "Create and open");
    settle(h);
    let errors = h.state().errors.clone();
    let s = h
        .state()
        .session
        .as_ref()
        .unwrap_or_else(|| panic!("the new project is not loaded: {errors:?}"));
    assert_eq!(s.traffic.packets.len() as u64, packets);
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
}

/// The dialog holds the simulator's four logs, each as its own kind.
fn assert_sim_log_kinds(sources: &[labelbench::gui::NewSource]) {
    use labelbench::labels::SourceKind;
    let mut kinds: Vec<SourceKind> = sources.iter().map(|s| s.spec.kind).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        kinds,
        vec![
            SourceKind::Ifttt,
            SourceKind::IftttTrigger,
            SourceKind::NotificationsJsonl,
            SourceKind::Smartthings
        ]
    );
}

/// Dropping captures, a registry and logs on the window fills the New project dialog (each
/// file sorted by kind, once however often it is dropped), and creating it loads the new
/// project.
#[test]
fn dropping_files_fills_the_new_project_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(dir.path(), 2, 1, 4, Some(10_000));
    let listing = |sub: &str| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir.path().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let pcaps = listing("pcaps");
    let mut files = pcaps.clone();
    files.push(dir.path().join("devices.json"));
    files.extend(listing("labels"));
    let mut h = harness(App::with_settings(Settings::default(), None));
    h.run_steps(2);
    assert!(!h.state().ui.new_project.open);
    for f in &files {
        h.input_mut()
            .dropped_files
            .push(std::sync::Arc::new(Dropped(f.clone())));
    }
    h.run_steps(2);
    // The same files dropped again add nothing.
    for f in &files {
        h.input_mut()
            .dropped_files
            .push(std::sync::Arc::new(Dropped(f.clone())));
    }
    h.run_steps(2);
    let d = &h.state().ui.new_project;
    assert!(d.open, "the dialog opens on a drop");
    assert_eq!(d.spec.captures.len(), pcaps.len());
    assert!(
        d.spec.devices.ends_with("devices.json"),
        "{}",
        d.spec.devices
    );
    assert_sim_log_kinds(&d.spec.sources);
    let proj = dir.path().join("dropped.labelbench.json");
    h.state_mut().ui.new_project.project_text = proj.display().to_string();
    h.run_steps(1);
    create_and_open(&mut h, r.packets);
    assert!(proj.is_file());
    let s = h.state().session.as_ref().unwrap();
    assert!(s.labels.events.len() > 10);
}

/// Dropping a lab's folder fills the dialog with a glob for its captures (the folder's name
/// taken literally), its registry and its logs (not its ground truth or project file); a
/// folder with none of these is reported.
#[test]
fn dropping_a_folder_adds_its_captures_registry_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    // Brackets in the folder's name must not be read as a glob's character class.
    let lab = dir.path().join("lab [2021]");
    let r = crate::common::sim(&lab, 2, 1, 4, Some(10_000));
    // The first hour compressed in place, as tcpdump's `-z gzip` leaves rotated files.
    let mut hours: Vec<_> = std::fs::read_dir(lab.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    hours.sort();
    let first = std::fs::read(&hours[0]).unwrap();
    let gz = format!("{}.gz", hours[0].display());
    std::fs::write(gz, crate::common::compress(&first, false)).unwrap();
    std::fs::remove_file(&hours[0]).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("README.txt"), "notes").unwrap();
    let mut h = harness(App::with_settings(Settings::default(), None));
    h.run_steps(2);
    for f in [&lab, &empty, &lab] {
        h.input_mut()
            .dropped_files
            .push(std::sync::Arc::new(Dropped(f.clone())));
    }
    h.run_steps(2);
    let d = &h.state().ui.new_project;
    assert!(d.open);
    let lit = dir.path().join("lab [[]2021[]]").join("pcaps");
    let glob = |suffix: &str| lit.join(suffix).display().to_string();
    assert_eq!(d.spec.captures, [glob("*.pcap.gz"), glob("*.pcap")]);
    assert_eq!(
        d.spec.devices,
        lab.join("devices.json").display().to_string()
    );
    assert_sim_log_kinds(&d.spec.sources);
    let errors = &h.state().errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("empty: no captures"), "{errors:?}");
    h.state_mut().errors.clear();
    let proj = lab.join("project.labelbench.json");
    assert_eq!(
        h.state().ui.new_project.project_text,
        proj.display().to_string()
    );
    create_and_open(&mut h, r.packets);
}

/// A project that cannot be opened says why on the welcome screen (naming the file), not
/// only behind the status bar's problem count.
#[test]
fn a_project_that_fails_to_open_says_why_on_the_welcome_screen() {
    let dir = tempfile::tempdir().unwrap();
    let proj = sample_copy(dir.path());
    std::fs::write(&proj, "{ \"captures\": [").unwrap();
    let mut h = harness(App::with_settings(Settings::default(), Some(proj.clone())));
    settle(&mut h);
    assert!(h.state().session.is_none());
    h.get_by_label("The project could not be opened:");
    let name = proj.file_name().unwrap().to_string_lossy().to_string();
    let shown = h.query_all_by_label_contains(&name).count();
    assert!(shown >= 1, "no message names {name}");
    h.get_by_label("Open project…");
}

/// The New project dialog's label-source "Add" stays disabled until the log has a path (a
/// click must never be ignored without a word); without a kind, the kind is told from the
/// file's content and shown with the reason; a file whose kind cannot be told says so.
#[test]
fn a_label_source_is_added_with_its_kind_told_or_chosen() {
    use labelbench::labels::SourceKind;
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/labels");
    let mut h = harness(App::with_settings(Settings::default(), None));
    h.state_mut().ui.new_project.open = true;
    h.run_steps(2);
    // The captures row has an "Add" too; the label sources' one comes last.
    let add_enabled = |h: &Harness<'_, App>| {
        !h.get_all_by_label("Add")
            .last()
            .unwrap()
            .accesskit_node()
            .is_disabled()
    };
    assert!(!add_enabled(&h));
    let actions = sample.join("ifttt-actions.csv").display().to_string();
    h.state_mut().ui.new_project.new_path = actions.clone();
    h.run_steps(2);
    assert!(add_enabled(&h));
    h.get_all_by_label("Add").last().unwrap().click();
    h.run_steps(2);
    let d = &h.state().ui.new_project;
    assert_eq!(d.spec.sources.len(), 1);
    assert_eq!(d.spec.sources[0].spec.path, actions);
    assert_eq!(d.spec.sources[0].spec.kind, SourceKind::IftttTrigger);
    assert!(d.new_path.is_empty());
    let _why = h.get_by_label_contains("15-minute grid");
    // A file that is no log is refused with the reason, in the dialog.
    let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    h.state_mut().ui.new_project.new_path = readme.display().to_string();
    h.run_steps(2);
    h.get_all_by_label("Add").last().unwrap().click();
    h.run_steps(2);
    assert_eq!(h.state().ui.new_project.spec.sources.len(), 1);
    let _error = h.get_by_label_contains("choose its kind");
    // A chosen kind is taken as chosen.
    h.state_mut().ui.new_project.new_path =
        sample.join("smartthings-events.csv").display().to_string();
    h.state_mut().ui.new_project.new_kind = Some(SourceKind::NotificationsCsv);
    h.run_steps(2);
    h.get_all_by_label("Add").last().unwrap().click();
    h.run_steps(2);
    let d = &h.state().ui.new_project;
    assert_eq!(d.spec.sources[1].spec.kind, SourceKind::NotificationsCsv);
    assert!(d.error.is_none());
}

/// A private session bus (a `dbus-daemon` of our own, nothing activatable unless given).
struct Bus {
    daemon: std::process::Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Bus {
    /// `None` (the test then skips) where `dbus-daemon` is not installed.
    fn start(portal_service: bool) -> Option<Bus> {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let services = dir.path().join("services");
        std::fs::create_dir(&services).unwrap();
        if portal_service {
            std::fs::write(
                services.join("portal.service"),
                "[D-BUS Service]\nName=org.freedesktop.portal.Desktop\nExec=/bin/false\n",
            )
            .unwrap();
        }
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                "<busconfig><type>session</type><listen>unix:tmpdir={}</listen>\
                 <auth>EXTERNAL</auth><servicedir>{}</servicedir><policy context=\"default\">\
                 <allow send_destination=\"*\"/><allow receive_sender=\"*\"/><allow own=\"*\"/>\
                 </policy></busconfig>",
                dir.path().display(),
                services.display()
            ),
        )
        .unwrap();
        let mut daemon = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let mut address = String::new();
        std::io::BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        Some(Bus {
            daemon,
            address: address.trim().to_string(),
            _dir: dir,
        })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// "Browse…" is enabled only where rfd's desktop portal is on the session bus, running or
/// startable on demand: a bus without it (a minimal window manager) made the button a silent
/// no-op.
#[test]
fn the_desktop_portal_is_looked_for_on_the_session_bus() {
    use labelbench::gui::portal::{portal_on_bus, PORTAL};
    // A bus that does not answer fails the test instead of hanging it.
    let ask = |address: &str| {
        let (tx, rx) = std::sync::mpsc::channel();
        let a = address.to_string();
        std::thread::spawn(move || tx.send(portal_on_bus(Some(&a))));
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("the bus answered within 20 s")
    };
    let Some(bare) = Bus::start(false) else {
        crate::common::missing("dbus-daemon");
        return;
    };
    assert_eq!(ask(&bare.address), Some(false));
    // Once something owns the portal's name, it is there.
    let owner = zbus::blocking::connection::Builder::address(bare.address.as_str())
        .unwrap()
        .build()
        .unwrap();
    owner.request_name(PORTAL).unwrap();
    assert_eq!(ask(&bare.address), Some(true));
    // A portal the bus can start on demand counts too.
    let activatable = Bus::start(true).unwrap();
    assert_eq!(ask(&activatable.address), Some(true));
    // No bus at all: nothing can be asked.
    assert_eq!(ask("unix:path=/nonexistent/bus"), None);
}

/// A project whose journal another process is writing opens, and says at once that edits
/// here would be refused (naming that process), instead of failing at the first edit.
#[test]
fn a_project_open_elsewhere_says_so_on_opening() {
    let dir = tempfile::tempdir().unwrap();
    let proj = sample_copy(dir.path());
    let mut other = crate::common::open_journaled(&proj);
    other.lock_journal().unwrap();
    let mut h = harness(App::with_settings(Settings::default(), Some(proj.clone())));
    settle(&mut h);
    assert!(h.state().session.is_some());
    let want = format!("project is open in process {}", std::process::id());
    assert!(
        h.state().errors.iter().any(|e| e.contains(&want)),
        "{:?}",
        h.state().errors
    );
}

/// The New project dialog and `labelbench new` create projects through one rule: the project
/// is named by its file, and an existing project file is never overwritten from the dialog.
#[test]
fn the_new_project_dialog_never_overwrites_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let proj = sample_copy(dir.path());
    let mut h = harness(App::with_settings(Settings::default(), None));
    let mut spec = h.state().ui.new_project.spec.clone();
    spec.project = proj.clone();
    spec.captures = vec![dir.path().join("pcaps/*.pcap").display().to_string()];
    let before = std::fs::read(&proj).unwrap();
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::CreateProject(spec.clone()));
    settle(&mut h);
    // The dialog stays open with the reason in it.
    let d = &h.state().ui.new_project;
    assert!(d.open);
    let error = d.error.clone().unwrap_or_default();
    assert!(error.contains("already exists"), "{error}");
    h.run_steps(2);
    let _shown = h.get_by_label_contains("already exists");
    assert_eq!(std::fs::read(&proj).unwrap(), before);
    spec.project = dir.path().join("lab-week.labelbench.json");
    h.state_mut()
        .commands
        .push(labelbench::gui::Command::CreateProject(spec));
    settle(&mut h);
    let s = h.state().session.as_ref().expect("the new project opens");
    assert_eq!(s.project.name, "lab-week");
}

/// A copy of the sample whose project reads a traffic dataset extracted from its captures.
fn sample_as_traffic_dataset(dir: &std::path::Path) -> std::path::PathBuf {
    let proj = sample_copy(dir);
    let lab = proj.parent().unwrap();
    let mut cmd = std::process::Command::new(crate::common::bin());
    cmd.current_dir(lab)
        .args(["extract", "pcaps/*.pcap", "--devices", "devices.json"])
        .args(["--out", "traffic"]);
    crate::common::run_ok(&mut cmd);
    let mut p: serde_json::Value = serde_json::from_slice(&std::fs::read(&proj).unwrap()).unwrap();
    p["captures"] = serde_json::json!([]);
    p["traffic"] = "traffic".into();
    let tp = lab.join("traffic.labelbench.json");
    std::fs::write(&tp, serde_json::to_vec(&p).unwrap()).unwrap();
    tp
}

/// `labelbench gui P --from … --to …` on a traffic dataset loads that slice's traffic (with
/// curation's margin) and says so; the labels of the whole span stay.
#[test]
fn a_traffic_dataset_opens_one_time_slice() {
    const H: i64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let tp = sample_as_traffic_dataset(dir.path());
    let (a, b) = (1_615_204_800_000_000_000, 1_615_204_800_000_000_000 + 6 * H);
    let whole = labelbench::project::session::Session::open(
        &tp.parent().unwrap().join("sample.labelbench.json"),
        Default::default(),
        None,
    )
    .unwrap();
    let mut app = App::with_settings(Settings::default(), Some(tp));
    app.slice = Some((a, b));
    let mut h = harness(app);
    settle(&mut h);
    let s = h.state().session.as_ref().expect("opened");
    let n = s.traffic.packets.len();
    assert!(n > 1_000 && n < 79_943, "{n} packets");
    let m = labelbench::curation::SLICE_MARGIN_NS;
    let (first, last) = (s.traffic.first_ns().unwrap(), s.traffic.last_ns().unwrap());
    assert!(first >= a - m && last <= b + m, "{first}..{last}");
    assert_eq!(s.labels.events.len(), whole.labels.events.len());
    let msg = h.state().ui.message.clone().unwrap_or_default();
    assert!(
        msg.contains("for 2021-03-08 12:00:00.000 to 2021-03-08 18:00:00.000"),
        "{msg}"
    );
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
    // The timeline draws the dataset's whole span from the bins `extract` wrote: per device,
    // as many packets as the whole load's lanes hold.
    let py = h.state().pyramid.clone().expect("bins");
    let (wa, wb) = (
        whole.traffic.first_ns().unwrap(),
        whole.traffic.last_ns().unwrap(),
    );
    assert!(
        py.start_ns <= wa && py.end_ns >= wb,
        "{}..{}",
        py.start_ns,
        py.end_ns
    );
    let top = py.levels.last().unwrap();
    for (d, idx) in whole.traffic.by_device.iter().enumerate() {
        let n: u64 = top
            .bins
            .get(d)
            .map_or(0, |b| b.packets.iter().map(|&p| p as u64).sum());
        assert_eq!(n, idx.len() as u64, "{}", whole.registry.devices[d].name);
    }
    // Suggestions are the slice's: about its events and time, or a source as a whole.
    let sugg = &h.state().ui.suggestions;
    assert!(!sugg.is_empty());
    let ids: std::collections::HashSet<u64> = s
        .labels
        .events
        .iter()
        .filter(|e| (a..b).contains(&s.adjusted_ns(e)))
        .map(|e| e.id)
        .collect();
    use labelbench::curation::SuggestionKind as K;
    for x in sugg {
        match x.event {
            Some(id) => assert!(ids.contains(&id), "{x:?}"),
            None => assert!(
                x.at_ns.is_none_or(|t| (a..b).contains(&t))
                    || matches!(x.kind, K::SourceOffset | K::TimeZone),
                "{x:?}"
            ),
        }
    }
}

/// A project that reads a traffic dataset (`labelbench extract`) opens like one of captures:
/// the same packets and lanes, and the status line says where the traffic came from.
#[test]
fn a_traffic_dataset_project_opens_with_its_lanes() {
    let dir = tempfile::tempdir().unwrap();
    let tp = sample_as_traffic_dataset(dir.path());
    let mut h = harness(App::with_settings(Settings::default(), Some(tp)));
    settle(&mut h);
    let s = h.state().session.as_ref().expect("opened");
    assert_eq!(s.traffic.packets.len(), 79_943);
    let msg = h.state().ui.message.clone().unwrap_or_default();
    assert!(msg.contains("traffic read from the dataset"), "{msg}");
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
    h.get_by_label("geeni-cam-01");
}

/// A slice of a dataset whose timeline bins are missing or damaged opens from the slice's
/// packets, and the status line says why the timeline shows only the slice.
#[test]
fn a_slice_without_usable_bins_says_why() {
    const H: i64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let tp = sample_as_traffic_dataset(dir.path());
    let bins = tp.parent().unwrap().join("traffic").join("bins");
    let a = 1_615_204_800_000_000_000;
    for damage in ["missing", "damaged"] {
        match damage {
            "missing" => std::fs::rename(&bins, bins.with_extension("away")).unwrap(),
            _ => {
                std::fs::rename(bins.with_extension("away"), &bins).unwrap();
                let part = std::fs::read_dir(&bins)
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .path();
                std::fs::write(&part, b"not parquet").unwrap();
            }
        }
        let mut app = App::with_settings(Settings::default(), Some(tp.clone()));
        app.slice = Some((a, a + 6 * H));
        let mut h = harness(app);
        settle(&mut h);
        let n = h
            .state()
            .session
            .as_ref()
            .expect("opened")
            .traffic
            .packets
            .len();
        assert!(n > 1_000 && n < 79_943, "{damage}: {n} packets");
        let msg = h.state().ui.message.clone().unwrap_or_default();
        assert!(
            msg.contains("the timeline shows the slice's packets only"),
            "{damage}: {msg}"
        );
        let want = match damage {
            "missing" => "no timeline bins",
            _ => "cannot be read",
        };
        assert!(msg.contains(want), "{damage}: {msg}");
        let py = h.state().pyramid.clone().expect("bins");
        assert!(
            py.start_ns >= a - labelbench::curation::SLICE_MARGIN_NS,
            "{damage}"
        );
    }
}

/// A traffic dataset larger than the window loads at once opens at its first day, and the
/// status line says so and how to open another.
#[test]
fn a_dataset_beyond_the_windows_budget_opens_its_first_day() {
    const DAY: i64 = 86_400_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 4, 2, 3, Some(20_000));
    let (_, tp) = crate::scale::as_traffic_dataset(&r.project);
    let mut app = App::with_settings(Settings::default(), Some(tp));
    app.packet_budget = 1_000;
    let mut h = harness(app);
    settle(&mut h);
    let s = h.state().session.as_ref().expect("opened");
    let (first, last) = (s.traffic.first_ns().unwrap(), s.traffic.last_ns().unwrap());
    let day = first.div_euclid(DAY) * DAY;
    assert_eq!(h.state().slice, Some((day, day + DAY)));
    let m = labelbench::curation::SLICE_MARGIN_NS;
    assert!(last < day + DAY + m, "{last}");
    let msg = h.state().ui.message.clone().unwrap_or_default();
    assert!(msg.contains("opened its first day"), "{msg}");
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
    // The next day, from the toolbar.
    h.get_by_label("Next slice").click();
    settle(&mut h);
    assert_eq!(h.state().slice, Some((day + DAY, day + 2 * DAY)));
    let s = h.state().session.as_ref().expect("opened");
    let (first, last) = (s.traffic.first_ns().unwrap(), s.traffic.last_ns().unwrap());
    assert!(
        first >= day + DAY - m && last < day + 2 * DAY + m,
        "{first}..{last}"
    );
    let msg = h.state().ui.message.clone().unwrap_or_default();
    assert!(msg.contains("only"), "{msg}");
}
