//! What a timeline lane draws under its markers: the device's traffic as bars from the bin
//! pyramid, and its flows as bars when zoomed in.

use eframe::egui;

use super::theme;
use super::timeline::{Lane, NS};
use crate::traffic::NO_DEVICE;

/// What the lanes' drawing needs to place things: the lanes, which are on screen, the view's
/// time range and the plot's transform.
pub struct LaneView<'a> {
    pub lanes: &'a [Lane],
    pub shown: std::ops::Range<usize>,
    pub lo: i64,
    pub hi: i64,
    pub tf: &'a egui_plot::PlotTransform,
    pub origin: i64,
    pub dark: bool,
}

impl LaneView<'_> {
    pub fn x(&self, t: i64) -> f32 {
        self.tf.position_from_point_x((t - self.origin) as f64 / NS)
    }
    pub fn y(&self, y: f64) -> f32 {
        self.tf.position_from_point_y(y)
    }
}

/// Traffic per lane as bars, scaled (sqrt) to the lane's own maximum in view; one mesh.
pub fn draw_traffic(
    painter: &egui::Painter,
    py: &crate::traffic::timeline::Pyramid,
    s: &crate::project::session::Session,
    v: &LaneView,
    metric: crate::traffic::timeline::Metric,
) {
    let frame = *v.tf.frame();
    let width_px = frame.width().max(100.0) as usize;
    let traffic_col = theme::traffic(v.dark);
    let mut mesh = egui::Mesh::default();
    for (k, lane) in v.lanes.iter().enumerate() {
        if lane.traffic_dev == NO_DEVICE || !v.shown.contains(&k) {
            continue;
        }
        let base = -(k as f64) - 0.42;
        let ser = py.series(
            &s.traffic,
            lane.traffic_dev,
            v.lo,
            v.hi,
            width_px / 2,
            metric,
        );
        let max = ser.iter().map(|x| x.2).fold(0.0, f64::max).max(1.0);
        let col = if lane.traffic_dev == lane.dev {
            traffic_col
        } else {
            traffic_col.gamma_multiply(0.45)
        };
        let y0 = v.y(base);
        for &(t0, w, val) in &ser {
            let x0 = v.x(t0).max(frame.left());
            let x1 = v.x(t0 + w).min(frame.right()).max(x0 + 1.0);
            let y1 = v.y(base + 0.62 * (val / max).sqrt());
            mesh.add_colored_rect(
                egui::Rect::from_min_max(egui::pos2(x0, y1.min(y0 - 1.0)), egui::pos2(x1, y0)),
                col,
            );
        }
    }
    painter.add(egui::Shape::mesh(mesh));
}

/// Flows as bars when zoomed in far enough (30 minutes) that few are in view; returns each
/// bar's hover rectangle and flow index.
pub fn draw_flows(
    painter: &egui::Painter,
    index: &crate::traffic::FlowIndex,
    s: &crate::project::session::Session,
    v: &LaneView,
) -> Vec<(egui::Rect, u32)> {
    let mut rects = Vec::new();
    if v.hi - v.lo > 30 * 60 * 1_000_000_000 {
        return rects;
    }
    let frame = *v.tf.frame();
    let mut fmesh = egui::Mesh::default();
    for (k, lane) in v.lanes.iter().enumerate() {
        if !v.shown.contains(&k) {
            continue;
        }
        let flows = &s.traffic.flows;
        let vis: Vec<u32> = index
            .overlapping(&s.traffic, lane.traffic_dev, (v.lo, v.hi))
            .collect();
        if vis.is_empty() || vis.len() > 200 {
            continue;
        }
        for (j, &i) in vis.iter().enumerate() {
            let f = &flows[i as usize];
            let y = v.y(-(k as f64) + 0.16 - (j % 3) as f64 * 0.07);
            let x0 = v.x(f.first_ns).max(frame.left());
            let x1 = v.x(f.last_ns).min(frame.right()).max(x0 + 2.0);
            let rect = egui::Rect::from_min_max(egui::pos2(x0, y - 1.5), egui::pos2(x1, y + 1.5));
            fmesh.add_colored_rect(rect, theme::flow(&f.protocol_name(), v.dark));
            rects.push((rect.expand(2.0), i));
        }
    }
    painter.add(egui::Shape::mesh(fmesh));
    rects
}
