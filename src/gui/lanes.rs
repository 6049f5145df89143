//! The timeline's lanes: which devices get one and in what order.

use super::app::App;
use crate::traffic::NO_DEVICE;

/// One lane: the device whose events it shows and the device whose traffic it draws.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub dev: u16,
    pub traffic_dev: u16,
    pub name: String,
}

/// Visible lanes: devices whose traffic the captures see, busiest first (a hub with its
/// children right after it, ranked by the busiest of them), then by name; devices with labels
/// but no traffic only when asked for ([`crate::gui::app::UiState::show_quiet`]), or when no
/// device has traffic at all.
pub fn lanes(app: &App) -> Vec<Lane> {
    let Some(s) = app.session.as_ref() else {
        return vec![];
    };
    let n = s.registry.len();
    let mut has_events = vec![false; n];
    for e in &s.labels.events {
        if e.device != NO_DEVICE {
            has_events[e.device as usize] = true;
        }
    }
    let packets = |d: u16| s.traffic.by_device.get(d as usize).map_or(0, Vec::len);
    let name = |d: u16| s.registry.devices[d as usize].name.as_str();
    let any_traffic = (0..n as u16).any(|d| packets(d) > 0);
    let filter = app.ui.device_filter.to_lowercase();
    let visible = |d: u16| {
        let dev = &s.registry.devices[d as usize];
        (app.ui.show_hidden || dev.registered && !app.ui.hidden.contains(&d))
            && (filter.is_empty() || dev.name.to_lowercase().contains(&filter))
    };
    let traffic =
        |d: u16| packets(s.traffic_device(d)) > 0 && (packets(d) > 0 || has_events[d as usize]);
    let shown = |d: u16| traffic(d) && visible(d);
    let lane = |d: u16, child: bool| Lane {
        dev: d,
        traffic_dev: s.traffic_device(d),
        name: match child {
            true => format!("  - {}", s.registry.devices[d as usize].name),
            false => s.registry.devices[d as usize].name.clone(),
        },
    };
    // Groups: a device and, when it is a hub, its children (by name).
    let mut groups: Vec<(usize, String, Vec<Lane>)> = Vec::new();
    for d in 0..n as u16 {
        let dev = &s.registry.devices[d as usize];
        if dev.hub.is_some() && s.registry.hub_of(d).is_some() {
            continue;
        }
        let mut members = Vec::new();
        let hub_shown = shown(d);
        if hub_shown {
            members.push(lane(d, false));
        }
        let mut children: Vec<u16> = s
            .registry
            .children(d)
            .into_iter()
            .filter(|&c| shown(c))
            .collect();
        children.sort_by_key(|&c| name(c));
        // A child is drawn under its hub; without the hub's lane it stands on its own.
        members.extend(children.into_iter().map(|c| lane(c, hub_shown)));
        if members.is_empty() {
            continue;
        }
        let busiest = members
            .iter()
            .map(|l| packets(l.traffic_dev))
            .max()
            .unwrap_or(0);
        groups.push((busiest, dev.name.clone(), members));
    }
    groups.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut out: Vec<Lane> = groups.into_iter().flat_map(|g| g.2).collect();
    if app.ui.show_quiet || !any_traffic {
        let mut quiet: Vec<u16> = (0..n as u16)
            .filter(|&d| has_events[d as usize] && !traffic(d) && visible(d))
            .collect();
        quiet.sort_by_key(|&d| name(d));
        out.extend(quiet.into_iter().map(|d| lane(d, false)));
    }
    out
}

/// How many devices have labels but no traffic: the lanes the quiet toggle adds.
pub fn quiet_devices(app: &App) -> usize {
    let Some(s) = app.session.as_ref() else {
        return 0;
    };
    let n = s.registry.len();
    let mut has_events = vec![false; n];
    for e in &s.labels.events {
        if let Some(h) = has_events.get_mut(e.device as usize) {
            *h = true;
        }
    }
    let packets = |d: u16| s.traffic.by_device.get(d as usize).map_or(0, Vec::len);
    (0..n as u16)
        .filter(|&d| has_events[d as usize] && packets(s.traffic_device(d)) == 0)
        .count()
}
