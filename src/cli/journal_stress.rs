//! `labelbench journal-stress` (hidden): a test helper that applies retime edits and
//! acknowledges each once it is durable, for the kill tests.

use std::path::PathBuf;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    pub project: PathBuf,
    #[arg(long, default_value_t = 1000)]
    pub edits: u64,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Args { project, edits } = a;
    use std::io::Write;
    let mut s = open_session(&project, true, true)?;
    s.lock_journal()?;
    let ids: Vec<u64> = s.labels.events.iter().map(|e| e.id).collect();
    if ids.is_empty() {
        return Err(bad(format!("{}: no events to edit", project.display())));
    }
    let mut out = std::io::stdout().lock();
    for k in 0..edits {
        let id = ids[(k as usize * 7) % ids.len()];
        let from = s.labels.get(id).and_then(|e| e.retime_ns);
        let to = 1_600_000_000_000_000_000 + k as i64;
        let seq = s
            .apply(labelbench::curation::edits::Edit::Retime {
                id,
                from,
                to: Some(to),
            })
            .map_err(bad)?;
        writeln!(out, "ack {seq} {id} {to}")?;
        out.flush()?;
    }
    Ok(())
}
