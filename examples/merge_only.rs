//! Times the merge alone (columns, flows, device index) over captures parsed beforehand, so
//! changes to it can be measured without the readers' share of ingest:
//! `cargo run --release --example merge_only -- DEVICES.json FILE…`.
//!
//! Prints, per round, the merge's wall time and its CPU (user, system): the system part is the
//! fresh memory of the columns being faulted in.
use std::path::PathBuf;
use std::time::Instant;

use labelbench::capture;
use labelbench::devtools::bench;
use labelbench::traffic::{self, devices};
use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: merge_only DEVICES.json FILE…");
        std::process::exit(2);
    }
    let registry = match devices::Registry::load(std::path::Path::new(&args[0])) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", args[0]);
            std::process::exit(1);
        }
    };
    let files: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
    for round in 1..=8 {
        let parsed: Vec<_> = files
            .par_iter()
            .map(|f| capture::read_capture(f, None))
            .collect();
        let mut reg = registry.clone();
        let c0 = bench::cpu_times().unwrap_or_default();
        let t = Instant::now();
        let tr = traffic::build(parsed, &mut reg, &traffic::FlowTimeouts::default());
        let took = t.elapsed().as_secs_f64();
        let c1 = bench::cpu_times().unwrap_or_default();
        println!(
            "round {round}: merge {took:.3} s, CPU user {:.2} s, system {:.2} s, {} packets, {} flows",
            c1.0 - c0.0,
            c1.1 - c0.1,
            tr.packets.len(),
            tr.flows.len()
        );
    }
}
