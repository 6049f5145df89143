//! The eframe workbench. Panels read the session and push commands; the app applies them.

use eframe::egui;

mod app;
mod panels;
mod tables;
pub mod theme;
pub mod timeline;
mod training;

pub use app::{App, Command, Settings, Tab};

/// Opens the window on `project` (if any).
pub fn run(project: Option<std::path::PathBuf>) -> Result<(), String> {
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
        Box::new(move |cc| Ok(Box::new(App::new(cc, project)))),
    )
    .map_err(|e| e.to_string())
}
