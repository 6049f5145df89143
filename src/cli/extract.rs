//! `labelbench extract`: capture files to a traffic dataset (Parquet tables per file).

use std::path::PathBuf;

use rayon::prelude::*;

use super::*;
use labelbench::traffic::dataset::ManifestRow;
use labelbench::traffic::devices::Registry;

#[derive(clap::Args)]
pub struct Args {
    /// Capture files or globs ('pcaps/*.pcap').
    #[arg(required = true)]
    pub captures: Vec<String>,
    /// Device registry (devices.json, the lab's devices.py, or CSV) used to file packets by
    /// device.
    #[arg(long)]
    pub devices: Option<PathBuf>,
    /// The dataset folder (created; it may already hold a dataset, which the files are added
    /// to; any other non-empty folder is refused).
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON manifest row per input instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub flows: flow_args::FlowArgs,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let timeouts = a.flows.timeouts()?;
    let files = labelbench::capture::expand_captures(Path::new("."), &a.captures).map_err(bad)?;
    let registry = match &a.devices {
        Some(d) => Registry::load(d).map_err(bad)?,
        None => Registry::default(),
    };
    let mut protected = files.clone();
    protected.extend(a.devices.clone());
    labelbench::export::extract::prepare_out(&a.out, &protected).map_err(write_err)?;
    let t0 = std::time::Instant::now();
    let rows: Vec<(PathBuf, labelbench::Result<ManifestRow>)> = files
        .par_iter()
        .map(|f| {
            let r = labelbench::export::extract::extract_file(f, &registry, &timeouts, &a.out);
            (f.clone(), r)
        })
        .collect();
    let mut failed = 0;
    let mut packets = 0u64;
    if !a.json {
        outln!(
            "{:<40} {:>10} {:<24} {:<24} {:>6}  sha256",
            "capture",
            "packets",
            "first (UTC)",
            "last (UTC)",
            "issues"
        );
    }
    for (f, r) in &rows {
        match r {
            Ok(m) => {
                packets += m.packets;
                if a.json {
                    outln!("{}", serde_json::to_string(m)?);
                } else {
                    outln!(
                        "{:<40} {:>10} {:<24} {:<24} {:>6}  {}",
                        m.path,
                        m.packets,
                        m.first_utc.as_deref().unwrap_or("-"),
                        m.last_utc.as_deref().unwrap_or("-"),
                        m.issues.len(),
                        &m.sha256[..16]
                    );
                }
                for i in m.issues.iter().filter(|i| i.fatal) {
                    eprintln!("warning: {i}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e}", f.display());
            }
        }
    }
    if !a.json {
        outln!(
            "{} of {} files into {} ({packets} packets) in {:.2} s",
            rows.len() - failed,
            rows.len(),
            a.out.display(),
            t0.elapsed().as_secs_f64()
        );
    }
    if failed > 0 {
        return Err(anyhow!(
            "{failed} of {} files could not be extracted",
            rows.len()
        ));
    }
    // Every input unreadable (Git LFS pointers, another format) is no dataset to work on.
    let unread = |m: &ManifestRow| m.packets == 0 && m.issues.iter().any(|i| i.fatal);
    let all_unread = rows.iter().all(|(_, r)| r.as_ref().is_ok_and(unread));
    let first_fatal = rows
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flat_map(|m| m.issues.iter().filter(|i| i.fatal))
        .next();
    if let (true, Some(first)) = (all_unread, first_fatal) {
        return Err(bad(format!(
            "none of the {} capture files could be read; {first}",
            rows.len()
        )));
    }
    Ok(())
}
