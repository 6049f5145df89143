//! The eframe workbench. Panels read the session and push commands; the app applies them.

use eframe::egui;

mod app;
mod clock_lane;
mod comparison;
mod lane_draw;
mod lane_pointer;
mod lanes;
pub mod markers;
mod panels;
pub mod portal;
mod tables;
pub mod theme;
pub mod timeline;
mod training;

pub use app::keys;
pub use app::{App, Command, Settings, Tab};
pub use panels::{NewProjectSpec, NewSource};

/// Opens the window on `project` (if any).
pub fn run(project: Option<std::path::PathBuf>, slice: Option<(i64, i64)>) -> Result<(), String> {
    let opts = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1500.0, 920.0])
            .with_title("labelbench")
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "labelbench",
        opts,
        Box::new(move |cc| {
            let mut app = App::new(cc, project);
            app.slice = slice;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| e.to_string())
}

/// Frame-time statistics of the full UI, measured headless on the CPU (layout + tessellation;
/// GPU rendering excluded).
#[derive(Debug, serde::Serialize)]
pub struct FrameStats {
    pub scenario: String,
    pub frames: usize,
    pub median_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Runs the whole UI for `frames` frames in each scenario (zoomed out, zoomed in, panning).
/// Also returns the seconds taken to install the session (timeline bins, per-device totals
/// and flow lists: what the window does after a project's data is read).
pub fn bench_frames(
    session: crate::project::session::Session,
    frames: usize,
) -> (f64, Vec<FrameStats>) {
    let ctx = egui::Context::default();
    let t0 = std::time::Instant::now();
    let mut app = App::with_session(Settings::default(), session);
    let install_s = t0.elapsed().as_secs_f64();
    let (first, last) = {
        let s = app.session.as_ref().expect("session");
        (
            s.traffic.first_ns().unwrap_or(0),
            s.traffic.last_ns().unwrap_or(1),
        )
    };
    let input = |t: f64| egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 1000.0),
        )),
        time: Some(t),
        ..Default::default()
    };
    // Warm up: let background suggestions finish so they do not skew the numbers.
    let mut t = 0.0;
    for _ in 0..5 {
        let _ = ctx.run_ui(input(t), |ui| app.frame(ui));
        t += 0.016;
    }
    while app.is_busy() {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let _ = ctx.run_ui(input(t), |ui| app.frame(ui));
        t += 0.016;
    }
    let mid = first + (last - first) / 2;
    let mut out = Vec::new();
    let scenarios: [(&str, i64, i64); 4] = [
        ("zoomed out (whole capture)", first, last),
        ("zoomed in (10 min)", mid, mid + 600_000_000_000),
        ("panning (6 h window)", mid, mid + 6 * 3_600_000_000_000),
        ("suggestions tab, zoomed out", first, last),
    ];
    for (name, a, b) in scenarios {
        if name.starts_with("suggestions") {
            app.ui.tab = Tab::Suggestions;
        }
        let mut times = Vec::with_capacity(frames);
        for k in 0..frames {
            let (lo, hi) = if name.starts_with("panning") {
                let d = (b - a) / 50 * k as i64;
                (a + d, b + d)
            } else {
                (a, b)
            };
            app.commands.push(Command::SetView(lo, hi));
            let t0 = std::time::Instant::now();
            let o = ctx.run_ui(input(t), |ui| app.frame(ui));
            let _ = ctx.tessellate(o.shapes, o.pixels_per_point);
            times.push(t0.elapsed().as_secs_f64() * 1e3);
            t += 0.016;
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        out.push(FrameStats {
            scenario: name.into(),
            frames,
            median_ms: q(0.5),
            p99_ms: q(0.99),
            max_ms: times[times.len() - 1],
        });
    }
    (install_s, out)
}
