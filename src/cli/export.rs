//! `labelbench export`: the cleaned dataset.

use std::path::PathBuf;

use super::*;
use labelbench::traffic::dataset::TrafficFilter;

#[derive(clap::Args)]
pub struct Args {
    /// Project file (*.labelbench.json).
    pub project: PathBuf,
    /// Output folder (created; must be absent or empty unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// parquet (default), csv or json (JSON lines).
    #[arg(long, default_value = "parquet", value_parser = ["parquet", "csv", "json"])]
    pub format: String,
    /// One pcap per event with its device's packets in its window.
    #[arg(long)]
    pub pcap_slices: bool,
    /// One pcapng per device, every packet in an event's window commented with the event
    /// (Wireshark and `tshark -Y frame.comment` show the labels).
    #[arg(long)]
    pub pcapng: bool,
    /// Also export rejected events.
    #[arg(long)]
    pub include_rejected: bool,
    /// Replace a previous export in `--out` (never any other folder).
    #[arg(long)]
    pub force: bool,
    /// Print the output folder, rows per table, slices and time as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only these devices (comma-separated names; `-` for events of no device): their events,
    /// features, flows and rows. A project reading a traffic dataset then reads only their
    /// packets (and their hubs'): one device group of a scaled-out export (docs/scale.md).
    #[arg(long, value_name = "NAMES")]
    pub only_devices: Option<String>,
    /// Only events from this UTC instant on (`2021-03-08`, `2021-03-08T12:00:00Z` or with an
    /// offset), and flows that start then; a project reading a traffic dataset reads only
    /// the packets those events' windows need: one time slice (docs/scale.md).
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub from: Option<i64>,
    /// Only events before this UTC instant (see --from).
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub to: Option<i64>,
    /// For a project reading a traffic dataset: read and write one UTC day at a time, so
    /// memory follows the largest day, not the whole span. Events and features equal an
    /// export at once; flows too, written as `flows/part-DAY.*` with a Zeek log per day in
    /// `conn/` (docs/scale.md).
    #[arg(long, conflicts_with = "pcapng")]
    pub by_day: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Args {
        project,
        out,
        format,
        pcap_slices,
        pcapng,
        include_rejected,
        force,
        json,
        only_devices,
        from,
        to,
        by_day,
    } = a;
    let fmt = labelbench::export::Format::parse(&format).ok_or_else(|| {
        bad(format!(
            "--format: unknown format {format:?} (parquet, csv, json)"
        ))
    })?;
    let filter = only_devices
        .as_deref()
        .map(TrafficFilter::parse_devices)
        .unwrap_or_default();
    let range = super::time_range(from, to)?;
    let report = project.with_extension("model_report.json");
    let mut o = labelbench::export::ExportOptions {
        format: fmt,
        pcap_slices,
        pcapng,
        include_rejected,
        force,
        only_devices: None,
        range,
        by_day,
    };
    let r = if by_day {
        super::require_project(&project)?;
        super::with_progress(move |pr| {
            labelbench::export::by_day::export_by_day(
                &project,
                &out,
                &o,
                &filter,
                Some(&report),
                Some(&pr),
            )
        })
        .map_err(write_err)?
    } else {
        let mut s = match range {
            Some(r) => super::open_slice(&project, &filter, r)?,
            None => open_session_filtered(&project, true, true, &filter)?,
        };
        o.only_devices =
            labelbench::export::by_day::device_indices(&mut s, &filter).map_err(bad)?;
        labelbench::export::export(&s, &out, &o, Some(&report)).map_err(write_err)?
    };
    print_report(&r, json, pcap_slices)
}

/// Rows per table (parts summed), slices and time; or the report as JSON.
fn print_report(
    r: &labelbench::export::ExportReport,
    json: bool,
    pcap_slices: bool,
) -> anyhow::Result<()> {
    for p in &r.input_problems {
        eprintln!("warning: {p} (exported without it)");
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(r)?);
    } else {
        for (f, n) in &labelbench::export::grouped_rows(&r.rows) {
            outln!("  {f:<20} {n:>9} rows");
        }
        if pcap_slices {
            outln!("  slices/             {:>9} pcaps", r.slices);
        }
        if let Some(line) = r.left_out.describe() {
            outln!("{line}");
        }
        outln!("exported to {} in {:.2} s", r.out.display(), r.seconds);
    }
    Ok(())
}
