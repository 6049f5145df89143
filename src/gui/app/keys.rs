//! The command table: every keyboard shortcut with its keys as shown, what it does, and the
//! action it runs. The input handler reads it, the F1 help is generated from it and menus show
//! its keys, so a shortcut is defined once.

use eframe::egui::{Key, Modifiers};

/// What a shortcut does; [`super::App::act`] turns it into commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Redo,
    Undo,
    Save,
    OpenProject,
    Export,
    NextEvent,
    PreviousEvent,
    NextSuggestion,
    PreviousSuggestion,
    AcceptSelected,
    ZoomToSelection,
    ZoomIn,
    ZoomOut,
    PanLeft,
    PanRight,
    WholeCapture,
    CloseOrClear,
    Help,
}

/// One row of the table.
pub struct Binding {
    /// The keys as the help and the menus show them.
    pub keys: &'static str,
    /// What the shortcut does, as the help shows it.
    pub does: &'static str,
    pub action: Action,
    /// The key presses that run it. With COMMAND they are taken even while a text field has the
    /// focus; without, only when no text field wants the keyboard.
    pub presses: &'static [(Modifiers, Key)],
}

const CMD: Modifiers = Modifiers::COMMAND;
const CMD_SHIFT: Modifiers = Modifiers {
    alt: false,
    ctrl: false,
    shift: true,
    mac_cmd: false,
    command: true,
};
const NONE: Modifiers = Modifiers::NONE;
const SHIFT: Modifiers = Modifiers::SHIFT;

/// Every shortcut, in the order the help lists them. Redo comes before Undo: Ctrl+Shift+Z
/// must be taken before Ctrl+Z matches it.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "Ctrl+Shift+Z / Ctrl+Y",
        does: "redo",
        action: Action::Redo,
        presses: &[(CMD_SHIFT, Key::Z), (CMD, Key::Y)],
    },
    Binding {
        keys: "Ctrl+Z",
        does: "undo",
        action: Action::Undo,
        presses: &[(CMD, Key::Z)],
    },
    Binding {
        keys: "Ctrl+S",
        does: "save the project",
        action: Action::Save,
        presses: &[(CMD, Key::S)],
    },
    Binding {
        keys: "Ctrl+O",
        does: "open a project",
        action: Action::OpenProject,
        presses: &[(CMD, Key::O)],
    },
    Binding {
        keys: "Ctrl+E",
        does: "export",
        action: Action::Export,
        presses: &[(CMD, Key::E)],
    },
    Binding {
        keys: "N",
        does: "next event",
        action: Action::NextEvent,
        presses: &[(NONE, Key::N)],
    },
    Binding {
        keys: "P",
        does: "previous event",
        action: Action::PreviousEvent,
        presses: &[(NONE, Key::P)],
    },
    Binding {
        keys: "Shift+N",
        does: "next suggestion",
        action: Action::NextSuggestion,
        presses: &[(SHIFT, Key::N)],
    },
    Binding {
        keys: "Shift+P",
        does: "previous suggestion",
        action: Action::PreviousSuggestion,
        presses: &[(SHIFT, Key::P)],
    },
    Binding {
        keys: "A",
        does: "accept the selected suggestion",
        action: Action::AcceptSelected,
        presses: &[(NONE, Key::A)],
    },
    Binding {
        keys: "F",
        does: "zoom to the selected event",
        action: Action::ZoomToSelection,
        presses: &[(NONE, Key::F)],
    },
    Binding {
        keys: "+",
        does: "zoom in",
        action: Action::ZoomIn,
        presses: &[
            (NONE, Key::Plus),
            (SHIFT, Key::Plus),
            (NONE, Key::Equals),
            (SHIFT, Key::Equals),
        ],
    },
    Binding {
        keys: "-",
        does: "zoom out",
        action: Action::ZoomOut,
        presses: &[(NONE, Key::Minus)],
    },
    Binding {
        keys: "Left",
        does: "pan left",
        action: Action::PanLeft,
        presses: &[(NONE, Key::ArrowLeft)],
    },
    Binding {
        keys: "Right",
        does: "pan right",
        action: Action::PanRight,
        presses: &[(NONE, Key::ArrowRight)],
    },
    Binding {
        keys: "Home",
        does: "whole capture",
        action: Action::WholeCapture,
        presses: &[(NONE, Key::Home)],
    },
    Binding {
        keys: "Esc",
        does: "close the dialog, else clear the selection",
        action: Action::CloseOrClear,
        presses: &[(NONE, Key::Escape)],
    },
    Binding {
        keys: "F1 or ?",
        does: "this help",
        action: Action::Help,
        presses: &[
            (NONE, Key::F1),
            (NONE, Key::Questionmark),
            (SHIFT, Key::Questionmark),
        ],
    },
];

/// What the mouse does on the timeline, listed in the help after the keys.
pub const MOUSE: &[(&str, &str)] = &[
    ("wheel / Shift+wheel, drag", "zoom / pan the timeline"),
    ("drag a marker", "retime the event (one undo step)"),
    (
        "Shift+drag a marker",
        "shift its whole source's clock offset",
    ),
];

/// The keys of `action` as shown in menus.
pub fn keys_of(action: Action) -> &'static str {
    BINDINGS
        .iter()
        .find(|b| b.action == action)
        .map_or("", |b| b.keys)
}

/// The actions whose key presses happened this frame, in table order. Command shortcuts are
/// consumed (so a text field does not also see them); plain keys only when `plain` (no text
/// field wants the keyboard) and their modifiers match exactly.
pub fn pressed(i: &mut eframe::egui::InputState, plain: bool) -> Vec<Action> {
    let mut out = Vec::new();
    for b in BINDINGS {
        let hit = b.presses.iter().any(|&(m, k)| {
            if m.command {
                i.consume_shortcut(&eframe::egui::KeyboardShortcut::new(m, k))
            } else {
                plain
                    && i.key_pressed(k)
                    && i.modifiers.shift == m.shift
                    && !i.modifiers.command
                    && !i.modifiers.alt
            }
        });
        if hit {
            out.push(b.action);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_row_and_keys() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            assert!(!seen.contains(&b.action), "{:?} twice", b.action);
            assert!(!b.keys.is_empty() && !b.presses.is_empty());
            seen.push(b.action);
        }
        assert_eq!(keys_of(Action::Undo), "Ctrl+Z");
    }
}
