//! The Devices panel: devices with traffic and labels, hubs with their children, search.

use super::*;

pub fn devices_panel(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::left("devices")
        .resizable(true)
        .default_size(230.0)
        .show(ui, |ui| {
            ui.heading("Devices");
            ui.add(
                egui::TextEdit::singleline(&mut app.ui.device_filter).hint_text("search devices…"),
            )
            .on_hover_text("Filter devices and lanes by name");
            ui.checkbox(&mut app.ui.show_hidden, "show hidden")
                .on_hover_text("Show hidden lanes and unregistered MACs");
            let s = app.session.as_ref().expect("panel needs a session");
            let st = &app.dev_stats;
            // Counted once per label generation, not every frame (16.7 K events on the lab week).
            if app.ui.event_counts.0 != app.ui.sugg_generation
                || app.ui.event_counts.1.len() != s.registry.len()
            {
                let mut counts = vec![0usize; s.registry.len()];
                for e in &s.labels.events {
                    if e.device != NO_DEVICE {
                        counts[e.device as usize] += 1;
                    }
                }
                app.ui.event_counts = (app.ui.sugg_generation, counts);
            }
            let evc = &app.ui.event_counts.1;
            let filter = app.ui.device_filter.to_lowercase();
            let mut cmds = Vec::new();
            egui::ScrollArea::vertical()
                .id_salt("devlist")
                .show(ui, |ui| {
                    let n = s.registry.len() as u16;
                    let matches = |d: u16| {
                        filter.is_empty()
                            || s.registry.devices[d as usize]
                                .name
                                .to_lowercase()
                                .contains(&filter)
                    };
                    // `context`: a hub shown only because a child matches the search.
                    let row = |ui: &mut egui::Ui,
                               d: u16,
                               indent: bool,
                               context: bool,
                               cmds: &mut Vec<Command>| {
                        let dev = &s.registry.devices[d as usize];
                        if !dev.registered && !app.ui.show_hidden {
                            return;
                        }
                        ui.horizontal(|ui| {
                            if indent {
                                ui.add_space(14.0);
                            }
                            let mut visible = !app.ui.hidden.contains(&d);
                            if ui
                                .checkbox(&mut visible, "")
                                .on_hover_text("Show this device's lane")
                                .changed()
                            {
                                cmds.push(Command::ToggleHidden(d));
                            }
                            let sel = app.ui.selected_device == Some(d);
                            let name = match context {
                                true => RichText::new(&dev.name).weak(),
                                false => RichText::new(&dev.name),
                            };
                            // The card is formatted on hover only: formatting 86 rows every
                            // frame costs a tenth of a frame on the lab week.
                            let r = ui.selectable_label(sel, name).on_hover_ui(|ui| {
                                ui.label(format!(
                                    "{} · {}\nMAC {}\n{} packets, {} bytes, {} flows, {} events",
                                    dev.kind(),
                                    dev.description,
                                    if dev.mac.is_some() {
                                        dev.mac_string()
                                    } else {
                                        "— (uses its hub's traffic)".into()
                                    },
                                    st[d as usize].packets,
                                    st[d as usize].bytes,
                                    st[d as usize].flows,
                                    evc[d as usize]
                                ));
                            });
                            if r.clicked() {
                                cmds.push(Command::SelectDevice(Some(d)));
                            }
                            ui.label(
                                RichText::new(format!(
                                    "{} pk · {} ev",
                                    compact(st.get(d as usize).map(|x| x.packets).unwrap_or(0)),
                                    evc[d as usize]
                                ))
                                .small()
                                .weak(),
                            )
                            .on_hover_text("packets and events of this device");
                        });
                    };
                    for d in 0..n {
                        let dev = &s.registry.devices[d as usize];
                        if dev.hub.is_some() && s.registry.hub_of(d).is_some() {
                            continue;
                        }
                        let children = s.registry.children(d);
                        let has = st.get(d as usize).is_some_and(|x| x.packets > 0)
                            || evc[d as usize] > 0
                            || children.iter().any(|&c| evc[c as usize] > 0);
                        if !has && !app.ui.show_hidden {
                            continue;
                        }
                        // A search shows what matches under its own hub, never under
                        // whichever row happens to be above it.
                        let shown: Vec<u16> =
                            children.into_iter().filter(|&c| matches(c)).collect();
                        if !matches(d) && shown.is_empty() {
                            continue;
                        }
                        row(ui, d, false, !matches(d), &mut cmds);
                        for c in shown {
                            row(ui, c, true, false, &mut cmds);
                        }
                    }
                });
            app.commands.extend(cmds);
        });
}
