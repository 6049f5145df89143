//! The one place colours are defined (light and dark).

use eframe::egui::{self, Color32, Visuals};

/// Colours of label sources, indexed by source number (cycled).
pub fn source_color(i: usize, dark: bool) -> Color32 {
    const DARK: [Color32; 7] = [
        Color32::from_rgb(0x4e, 0xa8, 0xde),
        Color32::from_rgb(0xf2, 0x8e, 0x2b),
        Color32::from_rgb(0x59, 0xc2, 0x6b),
        Color32::from_rgb(0xe1, 0x5b, 0x64),
        Color32::from_rgb(0xb0, 0x7a, 0xe0),
        Color32::from_rgb(0xed, 0xc9, 0x48),
        Color32::from_rgb(0x76, 0xb7, 0xb2),
    ];
    const LIGHT: [Color32; 7] = [
        Color32::from_rgb(0x1f, 0x6f, 0xb4),
        Color32::from_rgb(0xc8, 0x5a, 0x00),
        Color32::from_rgb(0x2a, 0x8a, 0x3b),
        Color32::from_rgb(0xb8, 0x25, 0x33),
        Color32::from_rgb(0x7a, 0x3f, 0xb0),
        Color32::from_rgb(0x9a, 0x7b, 0x00),
        Color32::from_rgb(0x2f, 0x7f, 0x7a),
    ];
    if dark {
        DARK[i % DARK.len()]
    } else {
        LIGHT[i % LIGHT.len()]
    }
}

/// Traffic bars in lanes.
pub fn traffic(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0x6a, 0x7f, 0x99)
    } else {
        Color32::from_rgb(0x8a, 0x9b, 0xb0)
    }
}

pub fn selection(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0xff, 0xe0, 0x66)
    } else {
        Color32::from_rgb(0xd9, 0x9a, 0x00)
    }
}

pub fn error(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0xff, 0x70, 0x70)
    } else {
        Color32::from_rgb(0xb0, 0x10, 0x10)
    }
}

pub fn muted(dark: bool) -> Color32 {
    if dark {
        Color32::from_gray(140)
    } else {
        Color32::from_gray(110)
    }
}

/// Heatmap cell colour for a value in 0..=1.
pub fn heat(v: f32, dark: bool) -> Color32 {
    let v = v.clamp(0.0, 1.0);
    let (lo, hi) = if dark {
        ([0x20, 0x26, 0x30], [0x2f, 0x8f, 0xe0])
    } else {
        ([0xf4, 0xf7, 0xfb], [0x1f, 0x5f, 0xb4])
    };
    let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * v) as u8;
    Color32::from_rgb(mix(lo[0], hi[0]), mix(lo[1], hi[1]), mix(lo[2], hi[2]))
}

pub fn visuals(dark: bool) -> Visuals {
    if dark {
        Visuals::dark()
    } else {
        Visuals::light()
    }
}

/// Text drawn on a dark heatmap cell.
pub fn on_heat() -> Color32 {
    Color32::WHITE
}

/// Flow bars by protocol.
pub fn flow(protocol: &str, dark: bool) -> Color32 {
    let (tcp, udp, other) = if dark {
        (
            Color32::from_rgb(0x9c, 0xc3, 0xe6),
            Color32::from_rgb(0xc9, 0xb3, 0xe8),
            Color32::from_rgb(0xb0, 0xb0, 0xb0),
        )
    } else {
        (
            Color32::from_rgb(0x2b, 0x5d, 0x8a),
            Color32::from_rgb(0x6a, 0x4c, 0x93),
            Color32::from_rgb(0x70, 0x70, 0x70),
        )
    };
    match protocol {
        "tcp" => tcp,
        "udp" => udp,
        _ => other,
    }
}

/// Text from a log as the window can draw it: a character no loaded font has (an emoji newer
/// than egui's emoji font) becomes `[U+1FAE8]` instead of a missing-glyph box, and the
/// invisible joiners and variation selectors of emoji sequences are dropped.
pub fn drawable(ctx: &egui::Context, text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let font = egui::FontId::proportional(12.0);
    ctx.fonts_mut(|f| {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if matches!(c, '\u{200d}' | '\u{fe00}'..='\u{fe0f}') {
                continue;
            }
            if c.is_control() || f.has_glyph(&font, c) {
                out.push(c);
            } else {
                out.push_str(&format!("[U+{:04X}]", c as u32));
            }
        }
        out
    })
}
