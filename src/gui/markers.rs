//! The timeline's event markers: colour is the source, shape the status; at a coarse zoom the
//! markers of a lane that would overlap become one count badge (click it to zoom to its
//! events), so a week of thousands of labels reads as where and how many, not as a smear.

use eframe::egui::{self, Pos2, Stroke};

use super::app::Drag;
use super::theme;
use crate::labels::{Event, Precision, Status};
use crate::project::session::Session;

/// Views longer than this aggregate overlapping markers; shorter ones draw every marker.
pub const AGGREGATE_ABOVE_NS: i64 = 2 * 3_600_000_000_000;
/// Markers closer than this (in pixels) to a group's first marker join the group.
const GROUP_PX: f32 = 14.0;

/// Overlapping markers of one lane drawn as one badge.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkerGroup {
    pub lane: usize,
    pub count: usize,
    /// Adjusted times of its first and last event.
    pub lo_ns: i64,
    pub hi_ns: i64,
    pub rect: egui::Rect,
}

/// What the markers' pass drew: single markers (for hit testing and dragging), the groups,
/// and where the selected event is.
#[derive(Default)]
pub struct Drawn {
    pub singles: Vec<(u64, Pos2)>,
    pub groups: Vec<MarkerGroup>,
    pub selected: Option<Pos2>,
}

/// The view the markers are drawn in.
pub struct MarkerView<'a> {
    pub lo: i64,
    pub hi: i64,
    /// Lane index of each device (`None`: no lane, or a lane not on screen).
    pub lane_of: &'a dyn Fn(u16) -> Option<usize>,
    pub x: &'a dyn Fn(i64) -> f32,
    pub y: &'a dyn Fn(usize) -> f32,
    pub drag: Option<Drag>,
    pub selected: Option<u64>,
    pub dark: bool,
}

/// The markers of the lanes on screen, and a ring and a faint line through the selected one.
pub fn draw_on_lanes(
    painter: &egui::Painter,
    s: &Session,
    v: &super::lane_draw::LaneView,
    drag: Option<Drag>,
    selected: Option<u64>,
) -> Drawn {
    // Lane on screen of each device, by device index (a map lookup per event per frame
    // would cost a tenth of a frame on the lab week).
    let mut lane_of: Vec<Option<usize>> = vec![None; s.registry.len()];
    for (k, l) in v.lanes.iter().enumerate() {
        if v.shown.contains(&k) {
            if let Some(slot) = lane_of.get_mut(l.dev as usize) {
                *slot = Some(k);
            }
        }
    }
    let drawn = draw(
        painter,
        s,
        &MarkerView {
            lo: v.lo,
            hi: v.hi,
            lane_of: &|d| lane_of.get(d as usize).copied().flatten(),
            x: &|t| v.x(t),
            y: &|k| v.y(-(k as f64) + 0.3),
            drag,
            selected,
            dark: v.dark,
        },
    );
    if let Some(p) = drawn.selected {
        let frame = *v.tf.frame();
        let col = theme::selection(v.dark);
        painter.circle_stroke(p, 9.0, Stroke::new(2.0, col));
        painter.line_segment(
            [
                egui::pos2(p.x, frame.top()),
                egui::pos2(p.x, frame.bottom()),
            ],
            Stroke::new(1.0, col.gamma_multiply(0.35)),
        );
    }
    drawn
}

/// Draws every event in view; see the module doc for when markers are grouped.
pub fn draw(painter: &egui::Painter, s: &Session, v: &MarkerView) -> Drawn {
    let aggregate = v.hi - v.lo > AGGREGATE_ABOVE_NS;
    // (lane, x, time, event) of every event in view, by lane then x.
    let mut inview: Vec<(usize, f32, i64, &Event)> = s
        .labels
        .events
        .iter()
        .filter_map(|e| {
            let k = (v.lane_of)(e.device)?;
            let t = match v.drag {
                Some(d) if d.id == e.id => d.to_ns,
                _ => s.adjusted_ns(e),
            };
            (t >= v.lo - 60_000_000_000 && t <= v.hi).then(|| (k, (v.x)(t), t, e))
        })
        .collect();
    inview.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.3.id.cmp(&b.3.id))
    });
    let mut out = Drawn::default();
    let mut i = 0;
    while i < inview.len() {
        let (k, x0, _, _) = inview[i];
        let mut j = i + 1;
        if aggregate {
            while j < inview.len() && inview[j].0 == k && inview[j].1 - x0 < GROUP_PX {
                j += 1;
            }
        }
        let run = &inview[i..j];
        if run.len() == 1 {
            let (_, x, t, e) = run[0];
            let p = egui::pos2(x, (v.y)(k));
            single(painter, e, p, t, v, aggregate);
            out.singles.push((e.id, p));
        } else {
            out.groups.push(badge(painter, run, v));
        }
        for &(_, x, _, e) in run {
            if Some(e.id) == v.selected {
                out.selected = Some(egui::pos2(x, (v.y)(k)));
            }
        }
        i = j;
    }
    out
}

fn single(painter: &egui::Painter, e: &Event, p: Pos2, t: i64, v: &MarkerView, coarse: bool) {
    let col = theme::source_color(e.source as usize, v.dark);
    // An unaligned minute label also shows its one-minute interval.
    if e.precision == Precision::Minute
        && e.retime_ns.is_none()
        && e.status == Status::Active
        && !coarse
    {
        let x1 = (v.x)(t + 60_000_000_000);
        if x1 - p.x > 2.0 {
            painter.rect_filled(
                egui::Rect::from_min_max(egui::pos2(p.x, p.y - 1.5), egui::pos2(x1, p.y + 1.5)),
                1.0,
                col.gamma_multiply(0.6),
            );
        }
    }
    shape(painter, p, 4.5, e.status, col);
}

/// A count badge over a run of overlapping markers, in the colour of its commonest source,
/// hollow when none of its events is active.
fn badge(
    painter: &egui::Painter,
    run: &[(usize, f32, i64, &Event)],
    v: &MarkerView,
) -> MarkerGroup {
    let k = run[0].0;
    let mut by_source: std::collections::BTreeMap<u16, usize> = Default::default();
    for r in run {
        *by_source.entry(r.3.source).or_default() += 1;
    }
    let source = by_source
        .iter()
        .max_by_key(|(src, n)| (**n, std::cmp::Reverse(**src)))
        .map_or(0, |(src, _)| *src);
    let col = theme::source_color(source as usize, v.dark);
    let active = run.iter().any(|r| r.3.status == Status::Active);
    let text = run.len().to_string();
    let font = egui::FontId::proportional(10.0);
    let galley = painter.layout_no_wrap(text, font, theme::on_heat());
    let x_mid = (run[0].1 + run[run.len() - 1].1) / 2.0;
    let w = (galley.size().x + 8.0).max(16.0);
    let rect = egui::Rect::from_center_size(egui::pos2(x_mid, (v.y)(k)), egui::vec2(w, 13.0));
    if active {
        painter.rect_filled(rect, 6.5, col);
        painter.galley(
            rect.center() - galley.size() / 2.0,
            galley,
            theme::on_heat(),
        );
    } else {
        painter.rect_stroke(rect, 6.5, Stroke::new(1.5, col), egui::StrokeKind::Inside);
        let g =
            painter.layout_no_wrap(run.len().to_string(), egui::FontId::proportional(10.0), col);
        painter.galley(rect.center() - g.size() / 2.0, g, col);
    }
    MarkerGroup {
        lane: k,
        count: run.len(),
        lo_ns: run.iter().map(|r| r.2).min().unwrap_or(0),
        hi_ns: run.iter().map(|r| r.2).max().unwrap_or(0),
        rect,
    }
}

/// A marker's shape for a status, centred at `p` with radius `r`: a filled circle for an
/// active event, a hollow diamond for a duplicate, a cross for a rejected one.
pub fn shape(painter: &egui::Painter, p: Pos2, r: f32, status: Status, col: egui::Color32) {
    match status {
        Status::Active => {
            painter.circle_filled(p, r, col);
        }
        Status::Duplicate => {
            let d = r + 0.5;
            painter.add(egui::Shape::closed_line(
                vec![
                    egui::pos2(p.x, p.y - d),
                    egui::pos2(p.x + d, p.y),
                    egui::pos2(p.x, p.y + d),
                    egui::pos2(p.x - d, p.y),
                ],
                Stroke::new(1.5, col),
            ));
        }
        Status::Rejected => {
            for (a, b) in [((-r, -r), (r, r)), ((-r, r), (r, -r))] {
                painter.line_segment(
                    [
                        egui::pos2(p.x + a.0, p.y + a.1),
                        egui::pos2(p.x + b.0, p.y + b.1),
                    ],
                    Stroke::new(1.5, col),
                );
            }
        }
    }
}
