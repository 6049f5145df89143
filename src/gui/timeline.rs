//! The timeline: one lane per visible device with its traffic (from the bin pyramid) and its
//! event markers, a shared time axis in the chosen zone, and an overview strip.

use chrono::TimeZone;
use eframe::egui::{self, Pos2, Sense, Stroke};
use egui_plot::{Plot, PlotBounds};

use super::app::{App, Command};
pub use super::lanes::{lanes, quiet_devices, Lane};
use super::theme;
use crate::labels::{Precision, Status};

pub(crate) const NS: f64 = crate::timefmt::NS_PER_S as f64;
/// Smallest lane height: below this, lanes of a big lab (86 on the 57-device week) turned
/// into unreadable slivers, so the timeline shows as many as fit and scrolls to the rest.
const MIN_LANE_PX: f32 = 20.0;

pub fn format_time(ns: i64, tz: &chrono_tz::Tz, span_s: f64) -> String {
    let d = tz.timestamp_nanos(ns);
    // Years when a clock jump (or a long study) spans them.
    if span_s > 3.0 * 365.0 * 86400.0 {
        d.format("%Y").to_string()
    } else if span_s > 90.0 * 86400.0 {
        d.format("%d %b %Y").to_string()
    } else if span_s > 3.0 * 86400.0 {
        d.format("%a %d %b").to_string()
    } else if span_s > 6.0 * 3600.0 {
        d.format("%a %H:%M").to_string()
    } else if span_s > 120.0 {
        d.format("%H:%M").to_string()
    } else {
        d.format("%H:%M:%S").to_string()
    }
}

pub fn timeline(app: &mut App, ui: &mut egui::Ui) {
    let Some(py) = app.pyramid.clone() else {
        return;
    };
    let dark = ui.visuals().dark_mode;
    let tz = app.tz();
    let lanes = lanes(app);
    let metric = app.metric();
    let origin = py.start_ns;
    toolbar(app, ui, quiet_devices(app));
    legend(app, ui, dark);
    let n = lanes.len().max(1);
    let overview_h = 38.0;
    let clock_h = app.session.as_ref().map_or(0.0, super::clock_lane::height);
    let plot_h = (ui.available_height() - overview_h - clock_h - 6.0).max(120.0);
    // Lanes that fit at a readable height (the time axis takes about 24 px).
    let fit = (((plot_h - 24.0) / MIN_LANE_PX).floor() as usize).clamp(1, n);
    reveal_selection(app, &lanes, fit);
    let top = app.ui.lane_top.min(n - fit);
    app.ui.lane_top = top;
    app.ui.lanes_fit = fit;
    app.ui.lanes_total = lanes.len();
    let shown = top..top + fit;
    let s = app.session.as_ref().expect("timeline needs a session");
    let names: Vec<String> = lanes.iter().map(|l| l.name.clone()).collect();
    let span_hint = app
        .ui
        .view
        .map(|(a, b)| (b - a) as f64 / NS)
        .unwrap_or(86400.0);
    let tz2 = tz;
    let plot = Plot::new("timeline")
        .height(plot_h)
        .allow_drag([
            app.ui.drag.is_none() && !app.ui.hover_marker && !app.ui.press_on_marker,
            false,
        ])
        .allow_zoom([true, false])
        .allow_scroll([true, false])
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_grid([true, false])
        .x_axis_formatter(move |m, _| format_time(origin + (m.value * NS) as i64, &tz2, span_hint))
        // Every lane is named at full strength: the default spacing faded names closer than
        // 30 px and hid them under 20 px, the smallest lane height.
        .custom_y_axes(vec![egui_plot::AxisHints::new_y()
            .min_thickness(150.0)
            .label_spacing(12.0..=16.0)
            .formatter(move |m, _| {
                let k = -m.value;
                if (k - k.round()).abs() < 1e-6 && k >= 0.0 {
                    names.get(k.round() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })])
        .show_axes([true, true]);
    let pending = app.ui.pending_view.take();
    let selected = app.ui.selected_event;
    let drag = app.ui.drag;
    let mut new_view = None;
    let mut markers: Vec<(u64, Pos2)> = Vec::new();
    let mut groups: Vec<super::markers::MarkerGroup> = Vec::new();
    let mut flow_rects: Vec<(egui::Rect, u32)> = Vec::new();
    let mut pointer_screen: Option<Pos2> = None;
    let resp = plot.show(ui, |pu| {
        if let Some((a, b)) = pending {
            pu.set_plot_bounds(PlotBounds::from_min_max(
                [(a - origin) as f64 / NS, -((top + fit) as f64) + 0.45],
                [(b - origin) as f64 / NS, -(top as f64) + 0.55],
            ));
        } else {
            let b = pu.plot_bounds();
            pu.set_plot_bounds(PlotBounds::from_min_max(
                [b.min()[0], -((top + fit) as f64) + 0.45],
                [b.max()[0], -(top as f64) + 0.55],
            ));
        }
        // The plain wheel zooms in time around the pointer (Shift+wheel and a trackpad's
        // sideways swipe pan, Ctrl+wheel zooms too): what the hover text promises.
        let frame = *pu.transform().frame();
        let over = pu
            .ctx()
            .input(|i| i.pointer.hover_pos())
            .is_some_and(|p| frame.contains(p));
        let wheel = pu
            .ctx()
            .input(|i| match i.modifiers.shift || i.modifiers.command {
                true => 0.0,
                false => i.smooth_scroll_delta.y,
            });
        if over && wheel != 0.0 {
            pu.zoom_bounds_around_hovered(egui::vec2((wheel / 200.0).exp(), 1.0));
        }
        let b = pu.plot_bounds();
        let lo = origin + (b.min()[0] * NS) as i64;
        let hi = origin + (b.max()[0] * NS) as i64;
        new_view = Some((lo, hi));
        pointer_screen = pu
            .response()
            .hover_pos()
            .or(pu.response().interact_pointer_pos());
    });
    if new_view != app.ui.view {
        // The toolbar's range and the axis labels were drawn from the previous view: draw
        // once more, or after a jump (say the fit when a project opens) they stay stale until
        // the next input.
        ui.ctx().request_repaint();
    }
    app.ui.view = new_view;
    let tf = resp.transform;
    let frame = *tf.frame();
    if let Some(t) = lane_wheel(ui, frame, fit, n, top) {
        app.ui.lane_top = t;
    }
    if let Some((lo, hi)) = new_view {
        let painter = ui.painter_at(frame);
        let view = super::lane_draw::LaneView {
            lanes: &lanes,
            shown: shown.clone(),
            lo,
            hi,
            tf: &tf,
            origin,
            dark,
        };
        super::lane_draw::draw_traffic(&painter, &py, s, &view, metric);
        flow_rects = super::lane_draw::draw_flows(&painter, &app.flow_index, s, &view);
        let drawn = super::markers::draw_on_lanes(&painter, s, &view, drag, selected);
        markers = drawn.singles;
        groups = drawn.groups;
    }
    app.commands.extend(group_badges(ui, &groups, &lanes));
    super::lane_pointer::pointer_on_lanes(
        &mut app.ui,
        &mut app.commands,
        ui,
        &resp,
        s,
        &markers,
        &lanes,
        origin,
        pointer_screen,
    );
    super::lane_pointer::lane_hover(&resp.response, s, &markers, &flow_rects, pointer_screen, tz);
    app.ui.marker_pos = markers;
    app.ui.marker_groups = groups;
    if let (Some(s), Some(view)) = (app.session.as_ref(), new_view) {
        super::clock_lane::clock_lane(ui, s, (frame.left(), frame.right()), view, &tz);
    }
    overview(app, ui, &py, origin, dark);
}

/// The mouse wheel over the lane names scrolls the lanes (over the plot it moves in time):
/// the new first lane, if the wheel moved.
fn lane_wheel(ui: &egui::Ui, frame: egui::Rect, fit: usize, n: usize, top: usize) -> Option<usize> {
    let names = egui::Rect::from_min_max(
        egui::pos2(frame.left() - 150.0, frame.top()),
        egui::pos2(frame.left(), frame.bottom()),
    );
    if fit >= n || !ui.rect_contains_pointer(names) {
        return None;
    }
    // One lane per wheel line (or per lane height of pixel scrolling), read from the raw
    // events so the plot's own smoothing does not apply.
    let step: i64 = ui.input(|i| {
        i.events
            .iter()
            .map(|e| match e {
                egui::Event::MouseWheel { unit, delta, .. } => match unit {
                    egui::MouseWheelUnit::Point => (delta.y / MIN_LANE_PX).round() as i64,
                    egui::MouseWheelUnit::Line => delta.y.round() as i64,
                    egui::MouseWheelUnit::Page => (delta.y * fit as f32).round() as i64,
                },
                _ => 0,
            })
            .sum()
    });
    (step != 0).then(|| (top as i64 - step).clamp(0, (n - fit) as i64) as usize)
}

/// Count badges answer to the pointer: the hover names what they hold, a click zooms to
/// their events (with a little room either side) so they come apart.
fn group_badges(
    ui: &mut egui::Ui,
    groups: &[super::markers::MarkerGroup],
    lanes: &[Lane],
) -> Vec<Command> {
    let mut cmds = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let device = lanes.get(g.lane).map_or("", |l| l.name.as_str());
        let label = format!("{} events on {device}", g.count);
        let resp = ui
            .interact(
                g.rect,
                ui.scope_id().with(("marker-group", i)),
                Sense::click(),
            )
            .on_hover_text(format!("{label}: click to zoom in on them"));
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
        if resp.clicked() {
            let pad = ((g.hi_ns - g.lo_ns) / 4).max(120_000_000_000);
            cmds.push(Command::SetView(g.lo_ns - pad, g.hi_ns + pad));
        }
    }
    cmds
}

/// A selection made elsewhere (table, matrix, stepping, the device list) scrolls its lane
/// into view, once.
fn reveal_selection(app: &mut App, lanes: &[Lane], fit: usize) {
    let mut reveal = None;
    if app.ui.selected_event != app.ui.revealed_event {
        app.ui.revealed_event = app.ui.selected_event;
        reveal = app.ui.selected_event.and_then(|id| {
            let s = app.session.as_ref()?;
            s.labels
                .events
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.device)
        });
    }
    if app.ui.selected_device != app.ui.revealed_device {
        app.ui.revealed_device = app.ui.selected_device;
        reveal = reveal.or(app.ui.selected_device);
    }
    if let Some(k) = reveal.and_then(|d| lanes.iter().position(|l| l.dev == d)) {
        if k < app.ui.lane_top || k >= app.ui.lane_top + fit {
            app.ui.lane_top = k.saturating_sub(fit / 2);
        }
    }
}

/// How far a plain marker drag may move an event: twice its precision, at least a minute
/// (a minute label's uncertainty and a logger's usual skew).
pub fn drag_bound(p: Precision) -> i64 {
    (2 * p.ns()).max(60_000_000_000)
}

/// What the markers mean: colour is the source, shape the status.
fn legend(app: &App, ui: &mut egui::Ui, dark: bool) {
    let Some(s) = app.session.as_ref() else {
        return;
    };
    let swatch = |ui: &mut egui::Ui, status: Status, col: egui::Color32| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), Sense::hover());
        super::markers::shape(ui.painter(), rect.center(), 4.0, status, col);
    };
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        for (i, src) in s.sources.iter().enumerate() {
            swatch(ui, Status::Active, theme::source_color(i, dark));
            let name = src.path.file_name().unwrap_or_default().to_string_lossy();
            ui.label(egui::RichText::new(format!("{} ({name})", src.spec.kind.as_str())).small())
                .on_hover_text(src.path.display().to_string());
            ui.add_space(6.0);
        }
        ui.separator();
        let muted = theme::muted(dark);
        for (status, what) in [
            (Status::Active, "active"),
            (Status::Duplicate, "duplicate"),
            (Status::Rejected, "rejected"),
        ] {
            swatch(ui, status, muted);
            ui.label(egui::RichText::new(what).small());
            ui.add_space(6.0);
        }
    });
}

fn toolbar(app: &mut App, ui: &mut egui::Ui, quiet: usize) {
    // Wrapped: with the lane pager the row is wider than the timeline on a 1600 px screen.
    ui.horizontal_wrapped(|ui| {
        if ui.button("<").on_hover_text("Previous event (P)").clicked() {
            app.commands.push(Command::StepEvent(false));
        }
        if ui.button(">").on_hover_text("Next event (N)").clicked() {
            app.commands.push(Command::StepEvent(true));
        }
        if ui.button("-").on_hover_text("Zoom out (-)").clicked() {
            if let Some((a, b)) = app.ui.view {
                let c = (a + b) / 2;
                app.commands
                    .push(Command::SetView(c - (b - a), c + (b - a)));
            }
        }
        if ui.button("+").on_hover_text("Zoom in (+)").clicked() {
            if let Some((a, b)) = app.ui.view {
                let c = (a + b) / 2;
                app.commands
                    .push(Command::SetView(c - (b - a) / 4, c + (b - a) / 4));
            }
        }
        if ui
            .button("Fit")
            .on_hover_text("Show the whole capture (Home)")
            .clicked()
        {
            if let Some(s) = &app.session {
                if let (Some(a), Some(b)) = (s.traffic.first_ns(), s.traffic.last_ns()) {
                    app.commands.push(Command::SetView(a, b));
                }
            }
        }
        if ui
            .add_enabled(
                app.ui.selected_event.is_some(),
                egui::Button::new("Zoom to selection"),
            )
            .on_hover_text("Zoom to the selected event's feature window (F)")
            .clicked()
        {
            app.commands.push(Command::ZoomToSelection);
        }
        if let Some((a, b)) = app.slice {
            // A slice of a dataset: step to the one before or after, of the same length.
            ui.separator();
            let idle = app.jobs.load.is_none();
            let span = crate::timefmt::utc_short(a) + " to " + &crate::timefmt::utc_short(b);
            if ui
                .add_enabled(idle, egui::Button::new("Previous slice"))
                .on_hover_text(format!("Open the slice before {span} (UTC), as long as it"))
                .clicked()
            {
                app.commands.push(Command::ShiftSlice(-1));
            }
            if ui
                .add_enabled(idle, egui::Button::new("Next slice"))
                .on_hover_text(format!("Open the slice after {span} (UTC), as long as it"))
                .clicked()
            {
                app.commands.push(Command::ShiftSlice(1));
            }
        }
        ui.separator();
        ui.label("lanes:");
        ui.selectable_value(&mut app.settings.metric_bytes, true, "bytes")
            .on_hover_text("Lane height = bytes per bin");
        ui.selectable_value(&mut app.settings.metric_bytes, false, "packets")
            .on_hover_text("Lane height = packets per bin");
        let (top, fit, n) = (app.ui.lane_top, app.ui.lanes_fit, app.ui.lanes_total);
        if fit > 0 && n > fit {
            // More lanes than fit: page through them (or use the wheel over the names).
            let page = fit.saturating_sub(1).max(1);
            if ui
                .add_enabled(top > 0, egui::Button::new("Up"))
                .on_hover_text("Lanes above (mouse wheel over the lane names)")
                .clicked()
            {
                app.ui.lane_top = top.saturating_sub(page);
            }
            ui.label(format!("{}-{} of {n}", top + 1, (top + fit).min(n)))
                .on_hover_text("Lanes shown");
            if ui
                .add_enabled(top + fit < n, egui::Button::new("Down"))
                .on_hover_text("Lanes below (mouse wheel over the lane names)")
                .clicked()
            {
                app.ui.lane_top = (top + page).min(n - fit);
            }
        }
        if quiet > 0 {
            ui.checkbox(&mut app.ui.show_quiet, format!("{quiet} without traffic"))
                .on_hover_text("Also draw devices that have labels but no traffic in the captures");
        }
        ui.separator();
        ui.label("zone:");
        egui::ComboBox::from_id_salt("tz")
            .selected_text(app.settings.tz.clone())
            .show_ui(ui, |ui| {
                for z in [
                    "UTC",
                    "America/New_York",
                    "America/Chicago",
                    "America/Los_Angeles",
                    "Europe/London",
                    "Europe/Berlin",
                    "Asia/Tokyo",
                    "Australia/Melbourne",
                ] {
                    ui.selectable_value(&mut app.settings.tz, z.to_string(), z);
                }
            })
            .response
            .on_hover_text("Time zone of the time axis");
        if let Some((a, b)) = app.ui.view {
            let tz = app.tz();
            ui.separator();
            ui.add(
                egui::Label::new(
                    egui::RichText::new(crate::timefmt::local_range(a, b, &tz)).small(),
                )
                .wrap_mode(egui::TextWrapMode::Extend),
            )
            .on_hover_text("Visible range in the chosen zone");
        }
    });
}

/// The whole capture's traffic with the current view; click or drag to move the view.
fn overview(
    app: &mut App,
    ui: &mut egui::Ui,
    py: &crate::traffic::timeline::Pyramid,
    origin: i64,
    dark: bool,
) {
    let (rect, resp) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), 34.0),
        Sense::click_and_drag(),
    );
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let bins = py.overview(app.metric(), rect.width().max(1.0) as usize);
    let total = (py.end_ns - origin).max(1) as f64;
    if !bins.is_empty() {
        let max = bins.iter().cloned().fold(0.0, f64::max).max(1.0);
        let w = rect.width() / bins.len() as f32;
        let col = theme::traffic(dark);
        for (k, v) in bins.iter().enumerate() {
            let h = (rect.height() - 4.0) * (v / max).sqrt() as f32;
            let x = rect.left() + k as f32 * w;
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(x, rect.bottom() - h),
                    egui::pos2(x + w.max(1.0), rect.bottom()),
                ),
                0.0,
                col,
            );
        }
    }
    if let Some((a, b)) = app.ui.view {
        let xa = rect.left() + rect.width() * ((a - origin) as f64 / total) as f32;
        let xb = rect.left() + rect.width() * ((b - origin) as f64 / total) as f32;
        let r = egui::Rect::from_min_max(
            egui::pos2(xa.max(rect.left()), rect.top()),
            egui::pos2(xb.min(rect.right()).max(xa + 2.0), rect.bottom()),
        );
        painter.rect_stroke(
            r,
            1.0,
            Stroke::new(1.5, theme::selection(dark)),
            egui::StrokeKind::Inside,
        );
        if let Some(p) = resp.interact_pointer_pos() {
            if resp.clicked() || resp.dragged() {
                let c = origin + (((p.x - rect.left()) / rect.width()) as f64 * total) as i64;
                let (a, b) = crate::traffic::timeline::recentre_view(origin, py.end_ns, (a, b), c);
                app.commands.push(Command::SetView(a, b));
            }
        }
    }
    resp.on_hover_text("Overview of the whole capture: click or drag to move the view");
}
