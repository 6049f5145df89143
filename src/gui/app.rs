//! The application state and frame loop.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use eframe::egui;

use crate::progress::Progress;
use crate::session::{OpenOptions, Session};

/// Everything a panel can ask the app to do; applied once per frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Open(PathBuf),
}

type LoadJob = JoinHandle<Result<Session, String>>;

pub struct App {
    pub session: Option<Session>,
    pub error: Option<String>,
    pub commands: Vec<Command>,
    loading: Option<(Arc<Progress>, LoadJob, PathBuf)>,
}

impl App {
    pub fn new(cc: &eframe::CreationContext<'_>, project: Option<PathBuf>) -> Self {
        let _ = cc;
        let mut app = App {
            session: None,
            error: None,
            commands: vec![],
            loading: None,
        };
        if let Some(p) = project {
            app.commands.push(Command::Open(p));
        }
        app
    }

    fn start_load(&mut self, path: PathBuf) {
        let p = Arc::new(Progress::new());
        let p2 = p.clone();
        let path2 = path.clone();
        let h = std::thread::Builder::new()
            .name("load".into())
            .spawn(move || {
                Session::open(&path2, OpenOptions { journal: true }, Some(&p2))
                    .map_err(|e| e.to_string())
            })
            .expect("spawn loader");
        self.loading = Some((p, h, path));
    }

    fn apply_commands(&mut self) {
        for c in std::mem::take(&mut self.commands) {
            match c {
                Command::Open(p) => self.start_load(p),
            }
        }
        if self.loading.as_ref().is_some_and(|l| l.1.is_finished()) {
            let (_, h, path) = self.loading.take().expect("checked");
            match h.join() {
                Ok(Ok(s)) => {
                    self.session = Some(s);
                    self.error = None;
                }
                Ok(Err(e)) => self.error = Some(e),
                Err(_) => self.error = Some(format!("{}: loader crashed", path.display())),
            }
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.apply_commands();
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some((p, _, path)) = &self.loading {
                ui.label(format!("Loading {} — {}", path.display(), p.stage()));
                ui.add(egui::ProgressBar::new(p.fraction()).show_percentage());
                ui.ctx().request_repaint();
            }
            if let Some(e) = &self.error {
                ui.colored_label(super::theme::error(ui.visuals().dark_mode), e);
            }
            if let Some(s) = &self.session {
                let r = crate::inspect::inspect(s);
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.monospace(crate::inspect::render_text(&r));
                });
            }
        });
    }
}
