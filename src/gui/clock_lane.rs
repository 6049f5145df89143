//! The clock lane under the timeline: each source whose clock steps or drifts, drawn as its
//! offset over time (the curve the curation follows), with the evidence beside it: every event
//! of that source moved to its traffic, as a dot at its own offset (where its activity was
//! found, minus its logged time).

use eframe::egui::{self, Sense, Stroke};

use super::theme;
use crate::curation::clock;
use crate::project::session::Session;

/// Height of the lane when a source's clock steps or drifts; it is not drawn otherwise.
const LANE_PX: f32 = 52.0;
/// Points of each curve across the view.
const SAMPLES: usize = 240;
/// Dots drawn per source at most (evenly spread over the events in view).
const MAX_DOTS: usize = 2_000;

/// Sources whose clock steps or drifts.
fn changing_sources(s: &Session) -> Vec<usize> {
    (0..s.sources.len())
        .filter(|&i| {
            s.labels.steps.get(i).is_some_and(|v| !v.is_empty())
                || s.labels.drifts.get(i).is_some_and(|v| !v.is_empty())
        })
        .collect()
}

/// The height the lane takes: 0 when no source's clock steps or drifts.
pub(crate) fn height(s: &Session) -> f32 {
    if changing_sources(s).is_empty() {
        0.0
    } else {
        LANE_PX + 4.0
    }
}

/// One source in the lane: its curve as (adjusted time, offset) and its dots.
struct Trace {
    source: usize,
    curve: Vec<(i64, i64)>,
    dots: Vec<(i64, i64)>,
}

fn traces(s: &Session, sources: &[usize], (lo, hi): (i64, i64)) -> Vec<Trace> {
    sources
        .iter()
        .map(|&si| {
            let curve = (0..=SAMPLES)
                .map(|k| {
                    let t = lo + ((hi - lo) as i128 * k as i128 / SAMPLES as i128) as i64;
                    let off = s.labels.clock_offset(si as u16, t);
                    (t + off, off)
                })
                .collect();
            let moved: Vec<&crate::labels::Event> = s
                .labels
                .events
                .iter()
                .filter(|e| {
                    e.source as usize == si && e.retime_ns.is_some_and(|r| r >= lo && r <= hi)
                })
                .collect();
            let stride = moved.len().div_ceil(MAX_DOTS).max(1);
            let dots = moved
                .iter()
                .step_by(stride)
                .filter_map(|e| e.retime_ns.map(|r| (r, r - e.original_ns)))
                .collect();
            Trace {
                source: si,
                curve,
                dots,
            }
        })
        .collect()
}

/// Draws the lane across `x` (the plot's left and right edge) for the view `lo..hi`.
pub(crate) fn clock_lane(
    ui: &mut egui::Ui,
    s: &Session,
    (x0, x1): (f32, f32),
    (lo, hi): (i64, i64),
    tz: &chrono_tz::Tz,
) {
    let sources = changing_sources(s);
    if sources.is_empty() || hi <= lo {
        return;
    }
    let dark = ui.visuals().dark_mode;
    let (full, resp) =
        ui.allocate_exact_size(egui::vec2(ui.available_width(), LANE_PX), Sense::hover());
    let rect =
        egui::Rect::from_x_y_ranges(x0.max(full.left())..=x1.min(full.right()), full.y_range());
    let painter = ui.painter_at(full);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let traces = traces(s, &sources, (lo, hi));
    let values = traces
        .iter()
        .flat_map(|t| t.curve.iter().chain(&t.dots).map(|p| p.1));
    let (mut ymin, mut ymax) = values.fold((i64::MAX, i64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    // At least ten seconds tall, so a flat clock is a line in the middle, not noise.
    if ymax - ymin < 10_000_000_000 {
        let mid = ymin / 2 + ymax / 2;
        (ymin, ymax) = (mid - 5_000_000_000, mid + 5_000_000_000);
    }
    let x_of = |t: i64| rect.left() + rect.width() * ((t - lo) as f64 / (hi - lo) as f64) as f32;
    let y_of = |v: i64| {
        let f = (v - ymin) as f64 / (ymax - ymin) as f64;
        rect.bottom() - 4.0 - (rect.height() - 8.0) * f as f32
    };
    let muted = theme::muted(dark);
    painter.text(
        egui::pos2(full.left() + 4.0, full.center().y),
        egui::Align2::LEFT_CENTER,
        format!(
            "clock offset\n{:+.0} … {:+.0} s",
            ymin as f64 / 1e9,
            ymax as f64 / 1e9
        ),
        egui::FontId::proportional(11.0),
        muted,
    );
    for tr in &traces {
        let col = theme::source_color(tr.source, dark);
        for &(t, v) in &tr.dots {
            painter.circle_filled(egui::pos2(x_of(t), y_of(v)), 1.8, col.gamma_multiply(0.55));
        }
        let pts: Vec<egui::Pos2> = tr
            .curve
            .iter()
            .map(|&(t, v)| egui::pos2(x_of(t), y_of(v)))
            .collect();
        painter.add(egui::Shape::line(pts, Stroke::new(2.0, col)));
    }
    let summary = format!(
        "clock lane: {} source{} whose clock steps or drifts",
        traces.len(),
        if traces.len() == 1 { "" } else { "s" }
    );
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &summary));
    if let Some(p) = resp.hover_pos().filter(|p| rect.contains(*p)) {
        let t = lo + ((p.x - rect.left()) / rect.width() * (hi - lo) as f32) as i64;
        resp.on_hover_text(hover_text(s, &traces, t, tz));
    }
}

/// What the lane shows at adjusted time `t`, per source: its offset there, what the offset is
/// made of, and the evidence.
fn hover_text(s: &Session, traces: &[Trace], t: i64, tz: &chrono_tz::Tz) -> String {
    let mut out = format!("at {}\n", crate::timefmt::local(t, tz));
    for tr in traces {
        let si = tr.source;
        let src = &s.sources[si];
        let name = src.path.file_name().unwrap_or_default().to_string_lossy();
        let logged = t - s.labels.clock_offset(si as u16, t);
        let steps = s.labels.steps.get(si).map_or(0, Vec::len);
        let drift = s
            .labels
            .drifts
            .get(si)
            .filter(|v| !v.is_empty())
            .map_or("no drift".to_string(), |a| clock::describe_drift(a));
        out.push_str(&format!(
            "{} ({name}): offset {:+.1} s (base {:+.1} s, {steps} step{}, {drift}); {} \
             event{} moved to their traffic in view (dots)\n",
            src.spec.kind.as_str(),
            s.labels.clock_offset(si as u16, logged) as f64 / 1e9,
            s.labels.offsets.get(si).copied().unwrap_or(0) as f64 / 1e9,
            if steps == 1 { "" } else { "s" },
            tr.dots.len(),
            if tr.dots.len() == 1 { "" } else { "s" },
        ));
    }
    out.push_str("Steps and drift are edited in the Suggestions tab.");
    out
}
