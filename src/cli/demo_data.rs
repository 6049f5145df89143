//! `labelbench demo-data`: write a simulated smart-home project.

use std::path::PathBuf;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Output folder for the project (pcaps/, labels/, devices.json, ground truth).
    #[arg(long)]
    pub out: PathBuf,
    /// Network devices (hub children come on top).
    #[arg(long, default_value_t = 10)]
    pub devices: usize,
    /// Days simulated (one pcap per hour).
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Seed: the same seed and settings give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Target total packets (scales background traffic).
    #[arg(long)]
    pub scale: Option<u64>,
    /// Multiplier on the devices' spontaneous event rates (the lab week's 16.7 K log rows: 1.7).
    #[arg(long, default_value_t = 1.0)]
    pub label_rate: f64,
    /// Give the lab every defect found on real labs at once (a 30 s-fast IFTTT clock, 15 %
    /// IFTTT repeats, 30 % of IFTTT events also in SmartThings, cameras that look up their
    /// cloud before uploading, CRLF logs, labels in America/Chicago); the options below
    /// override single defects.
    #[arg(long)]
    pub real_lab_defects: bool,
    /// The IFTTT logger's clock minus true time, in seconds (positive: it runs fast).
    #[arg(long, allow_hyphen_values = true)]
    pub ifttt_clock_offset: Option<f64>,
    /// The IFTTT logger's clock gains this many seconds a day (linear drift from the start).
    #[arg(long, allow_hyphen_values = true)]
    pub ifttt_clock_drift: Option<f64>,
    /// Share of IFTTT rows written two or three times (default 0.12).
    #[arg(long)]
    pub ifttt_repeats: Option<f64>,
    /// Share of IFTTT applet events SmartThings logs too.
    #[arg(long)]
    pub ifttt_also_smartthings: Option<f64>,
    /// Cameras wake with DHCP and a DNS lookup 3-8 s before they upload.
    #[arg(long)]
    pub lead_in: bool,
    /// Write the label logs with CRLF line endings.
    #[arg(long)]
    pub crlf: bool,
    /// Zone the label logs' local times are written in (default America/New_York).
    #[arg(long)]
    pub label_zone: Option<String>,
    /// Give the lab the small-command defects: plugs take commands as one small cloud push
    /// among 5-s keepalives, scheduled triggers act 2-75 s after their minute, and the trigger
    /// logger's clock steps by a minute half-way through.
    #[arg(long)]
    pub small_commands: bool,
    /// Name no zone in the project file: its sources are read as UTC until curation finds
    /// the zone.
    #[arg(long)]
    pub omit_zone: bool,
    /// Write a per-event capture dataset: one pcap per true event in Mon(IoT)r's layout
    /// (`traffic/<device>/<class>/<local start>.30s.pcap`) instead of hourly pcaps, and a
    /// project whose labels are those paths.
    #[arg(long)]
    pub per_event_captures: bool,
    /// Replace a previous demo-data project in `--out` (never any other folder).
    #[arg(long)]
    pub force: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The defects the options ask for.
fn defects(a: &Args) -> anyhow::Result<labelbench::devtools::sim::Defects> {
    use labelbench::devtools::sim::Defects;
    let mut d = if a.real_lab_defects {
        Defects::real_lab()
    } else {
        Defects::default()
    };
    if let Some(x) = a.ifttt_clock_offset {
        if !(x.is_finite() && x.abs() <= 3600.0) {
            return Err(bad(
                "demo-data: --ifttt-clock-offset must be within ±3600 s",
            ));
        }
        d.ifttt_clock_offset_ns = (x * 1e9).round() as i64;
    }
    if let Some(x) = a.ifttt_clock_drift {
        if !(x.is_finite() && x.abs() <= 3600.0) {
            return Err(bad(
                "demo-data: --ifttt-clock-drift must be within ±3600 s a day",
            ));
        }
        d.ifttt_clock_drift_ns_per_day = (x * 1e9).round() as i64;
    }
    for (v, name, slot) in [
        (a.ifttt_repeats, "--ifttt-repeats", &mut d.ifttt_repeat_rate),
        (
            a.ifttt_also_smartthings,
            "--ifttt-also-smartthings",
            &mut d.ifttt_also_smartthings,
        ),
    ] {
        if let Some(x) = v {
            if !(0.0..=1.0).contains(&x) {
                return Err(bad(format!("demo-data: {name} must be between 0 and 1")));
            }
            *slot = x;
        }
    }
    if a.small_commands {
        let s = Defects::small_commands();
        d.push_commands = s.push_commands;
        d.trigger_delay_max_ns = s.trigger_delay_max_ns;
        d.trigger_clock_step_ns = s.trigger_clock_step_ns;
    }
    d.lead_in |= a.lead_in;
    d.crlf |= a.crlf;
    d.omit_zone |= a.omit_zone;
    if let Some(z) = &a.label_zone {
        z.parse::<chrono_tz::Tz>()
            .map_err(|_| bad(format!("demo-data: unknown time zone {z:?}")))?;
        d.label_zone = z.clone();
    }
    Ok(d)
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let defects = defects(&a)?;
    let Args {
        out,
        devices,
        days,
        seed,
        scale,
        label_rate,
        per_event_captures,
        force,
        json,
        ..
    } = a;
    if devices == 0 || days == 0 {
        return Err(bad("demo-data: --devices and --days must be at least 1"));
    }
    if !(label_rate > 0.0 && label_rate <= 100.0) {
        return Err(bad("demo-data: --label-rate must be in (0, 100]"));
    }
    let o = labelbench::devtools::sim::SimOptions {
        devices,
        days,
        seed,
        scale_packets: scale,
        label_rate,
        defects,
        per_event_captures,
        ..Default::default()
    };
    let r = labelbench::devtools::sim::write_project(&out, &o, force).map_err(write_err)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        outln!(
            "wrote {}: {} devices ({} on the network), {} days, {} packets in {} pcaps ({:.1} MB), {} true events, log rows ifttt {} / triggers {} / smartthings {} / notifications {}; {:.2} s, {:.2} M packets/s",
            r.project.display(), r.devices, r.network_devices, r.days, r.packets, r.pcap_files,
            r.pcap_bytes as f64 / 1e6, r.true_events, r.log_rows[0], r.log_rows[1], r.log_rows[2],
            r.log_rows[3], r.seconds, r.packets_per_s / 1e6
        );
    }
    Ok(())
}
