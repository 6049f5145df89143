//! The flow timeout options shared by the subcommands that assemble flows (`new`,
//! `bench ingest`).

use labelbench::traffic::{FlowPreset, FlowTimeouts};

use super::bad;

const SECOND: f64 = 1e9;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct FlowArgs {
    /// Flow timeouts: smart-home (default; TCP idle 900 s, UDP and other 120 s, no active
    /// timeout), nfstream (idle 120 s, active 1800 s) or zeek (TCP 300 s, UDP and ICMP 60 s).
    /// The options below change single values of the preset.
    #[arg(long = "flow-timeouts", value_name = "PRESET")]
    pub preset: Option<String>,
    /// A TCP flow ends after this many seconds without a packet.
    #[arg(long, value_name = "SECONDS")]
    pub tcp_idle: Option<f64>,
    /// A UDP flow ends after this many seconds without a packet.
    #[arg(long, value_name = "SECONDS")]
    pub udp_idle: Option<f64>,
    /// Any other flow (ICMP, layer 2) ends after this many seconds without a packet.
    #[arg(long, value_name = "SECONDS")]
    pub other_idle: Option<f64>,
    /// Any flow ends once it has lasted this many seconds; `none` for no limit.
    #[arg(long, value_name = "SECONDS|none")]
    pub active_timeout: Option<String>,
    /// A closed TCP connection keeps late packets for this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub linger: Option<f64>,
}

impl FlowArgs {
    /// The timeouts these options give (the preset's, with single values replaced).
    pub fn timeouts(&self) -> anyhow::Result<FlowTimeouts> {
        let preset = match &self.preset {
            None => FlowPreset::SmartHome,
            Some(p) => FlowPreset::parse(p)
                .filter(|p| *p != FlowPreset::Custom)
                .ok_or_else(|| {
                    bad(format!(
                        "--flow-timeouts {p}: unknown preset (use smart-home, nfstream or zeek)"
                    ))
                })?,
        };
        let mut t = FlowTimeouts::preset(preset);
        let ns = |what: &str, s: f64| -> anyhow::Result<i64> {
            if s.is_finite() && s >= 0.0 && s * SECOND < i64::MAX as f64 {
                Ok((s * SECOND).round() as i64)
            } else {
                Err(bad(format!("--{what} {s}: give a number of seconds")))
            }
        };
        let mut changed = false;
        for (what, v, slot) in [
            ("tcp-idle", self.tcp_idle, &mut t.tcp_idle_ns),
            ("udp-idle", self.udp_idle, &mut t.udp_idle_ns),
            ("other-idle", self.other_idle, &mut t.other_idle_ns),
            ("linger", self.linger, &mut t.linger_ns),
        ] {
            if let Some(v) = v {
                *slot = ns(what, v)?;
                changed = true;
            }
        }
        if let Some(a) = &self.active_timeout {
            t.active_ns = match a.trim() {
                "none" => None,
                s => Some(ns(
                    "active-timeout",
                    s.parse().map_err(|_| {
                        bad(format!("--active-timeout {s}: give seconds or `none`"))
                    })?,
                )?),
            };
            changed = true;
        }
        let preset = t.preset;
        if changed && t != FlowTimeouts::preset(preset) {
            t.preset = FlowPreset::Custom;
        }
        t.check().map_err(bad)?;
        Ok(t)
    }
}
