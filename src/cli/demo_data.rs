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
    /// Replace a previous demo-data project in `--out` (never any other folder).
    #[arg(long)]
    pub force: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Args {
        out,
        devices,
        days,
        seed,
        scale,
        label_rate,
        force,
        json,
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
