//! The pointer on the timeline's lanes: hovering, selecting and dragging markers (a drag is
//! bounded unless Alt or Shift is held, its offset shown beside the pointer), clicking a lane,
//! and the lanes' hover text.

use eframe::egui::{self, Pos2};

use super::app::{Command, Drag};
use super::timeline::{drag_bound, Lane, NS};
use crate::curation::edits::Edit;

/// The pointer on the lanes: hovering and pressing on markers, dragging one (bounded unless
/// Alt or Shift is held; the offset shown beside the pointer), clicks that select an event or
/// a lane's device.
#[allow(clippy::too_many_arguments)]
pub fn pointer_on_lanes(
    state: &mut crate::gui::app::UiState,
    commands: &mut Vec<Command>,
    ui: &egui::Ui,
    resp: &egui_plot::PlotResponse<()>,
    s: &crate::project::session::Session,
    markers: &[(u64, Pos2)],
    lanes: &[Lane],
    origin: i64,
    pointer_screen: Option<Pos2>,
) {
    // Hit testing and marker dragging.
    let r = &resp.response;
    let nearest = |p: Pos2| nearest_marker(markers, p);
    state.hover_marker = pointer_screen.and_then(nearest).is_some();
    // A press that starts on a marker drags the marker, never the view.
    let (pressed, down, press_origin) = ui.input(|i| {
        (
            i.pointer.primary_pressed(),
            i.pointer.primary_down(),
            i.pointer.press_origin(),
        )
    });
    if pressed {
        state.press_on_marker = press_origin.and_then(nearest).is_some();
    }
    if !down && state.drag.is_none() {
        state.press_on_marker = false;
    }
    let to_ns = |p: Pos2| origin + (resp.transform.value_from_position(p).x * NS) as i64;
    if r.drag_started() {
        // Hit-test where the button went down, not where the drag threshold was crossed.
        let origin_pos = ui
            .input(|i| i.pointer.press_origin())
            .or(r.interact_pointer_pos());
        if let Some(id) = origin_pos.and_then(nearest) {
            if let Some(e) = s.labels.get(id) {
                let t = s.adjusted_ns(e);
                state.drag = Some(Drag {
                    id,
                    from_ns: t,
                    to_ns: t,
                    bound_ns: drag_bound(e.precision),
                });
                commands.push(Command::Pick(Some(id)));
            }
        }
    }
    if let (Some(d), Some(p)) = (state.drag.as_mut(), r.interact_pointer_pos()) {
        let (free, shift) = ui.input(|i| (i.modifiers.alt, i.modifiers.shift));
        if r.dragged() {
            let want = to_ns(p);
            d.to_ns = match free || shift {
                true => want,
                false => want.clamp(d.from_ns - d.bound_ns, d.from_ns + d.bound_ns),
            };
        }
        // The offset the drop will apply, beside the pointer.
        let what = match (shift, free) {
            (true, _) => "whole source",
            (false, true) => "free",
            (false, false) if (d.to_ns - d.from_ns).abs() == d.bound_ns => {
                "at the bound; Alt for more"
            }
            _ => "Alt for more",
        };
        let text = format!("{:+.1} s ({what})", (d.to_ns - d.from_ns) as f64 / 1e9);
        ui.painter().text(
            p + egui::vec2(12.0, -16.0),
            egui::Align2::LEFT_BOTTOM,
            &text,
            egui::FontId::proportional(12.0),
            ui.visuals().strong_text_color(),
        );
        state.drag_text = Some(text);
    } else {
        state.drag_text = None;
    }
    if r.drag_stopped() {
        if let Some(d) = state.drag.take() {
            if (d.to_ns - d.from_ns).abs() >= 100_000_000 {
                if let Some(e) = s.labels.get(d.id) {
                    let shift = ui.input(|i| i.modifiers.shift);
                    if shift && e.source != crate::labels::INSERTED_SOURCE {
                        // Shift-drag moves the whole source's clock offset.
                        let cur = s
                            .labels
                            .offsets
                            .get(e.source as usize)
                            .copied()
                            .unwrap_or(0);
                        commands.push(Command::Apply(Edit::SetSourceOffset {
                            source: e.source,
                            from: cur,
                            to: cur + d.to_ns - d.from_ns,
                        }));
                    } else {
                        commands.push(Command::Apply(Edit::Retime {
                            id: d.id,
                            from: e.retime_ns,
                            to: Some(d.to_ns),
                        }));
                    }
                }
            }
        }
    }
    if r.clicked() {
        match r.interact_pointer_pos().and_then(nearest) {
            Some(id) => commands.push(Command::Pick(Some(id))),
            None => {
                if let Some(p) = r.interact_pointer_pos() {
                    let y = resp.transform.value_from_position(p).y;
                    let k = (-y).round();
                    if k >= 0.0 {
                        if let Some(l) = lanes.get(k as usize) {
                            commands.push(Command::SelectDevice(Some(l.dev)));
                        }
                    }
                }
            }
        }
    }
}

/// The hover text of the lanes: the event under the pointer, else the flow, else how the
/// lanes answer to the mouse.
pub fn lane_hover(
    r: &egui::Response,
    s: &crate::project::session::Session,
    markers: &[(u64, Pos2)],
    flow_rects: &[(egui::Rect, u32)],
    pointer_screen: Option<Pos2>,
    tz: chrono_tz::Tz,
) {
    let hover_txt = pointer_screen
        .and_then(|p| nearest_marker(markers, p))
        .and_then(|id| s.labels.get(id))
        .map(|e| {
            format!(
                "{} {} — {} line {}\n{}\n{}",
                s.event_device_name(e),
                e.class,
                s.source_kind_str(e),
                e.line,
                crate::timefmt::local(s.adjusted_ns(e), &tz),
                e.status.as_str()
            )
        });
    let hover_txt = hover_txt.or_else(|| {
        let p = pointer_screen?;
        let (_, i) = flow_rects.iter().find(|(r, _)| r.contains(p))?;
        let f = &s.traffic.flows[*i as usize];
        let ep = f.endpoints();
        Some(format!(
            "flow {} {ep}\n{} packets, {} bytes, {} (ended: {})",
            f.protocol_name(),
            f.packets(),
            f.bytes(),
            crate::numfmt::human_duration(f.last_ns - f.first_ns),
            f.end.as_str()
        ))
    });
    if let Some(t) = hover_txt {
        r.clone().on_hover_text_at_pointer(t);
    } else {
        r.clone().on_hover_text("Wheel to zoom, Shift+wheel or drag to pan; click a marker to select it, drag it to retime within 2 minutes (Alt+drag frees it; Shift+drag shifts its whole source)");
    }
}

/// The marker within 8 px of `p`, the closest one.
fn nearest_marker(markers: &[(u64, Pos2)], p: Pos2) -> Option<u64> {
    markers
        .iter()
        .map(|(id, m)| (*id, m.distance(p)))
        .filter(|x| x.1 <= 8.0)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|x| x.0)
}
