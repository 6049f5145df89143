//! Benchmarks run from the CLI (`labelbench bench …`), each against a baseline measured in the
//! same run.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

use crate::traffic;
use crate::traffic::devices::Registry;

/// Peak resident memory of this process so far (VmHWM), in bytes.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// This process's CPU time so far (user, system) in seconds, all threads, from
/// `/proc/self/stat` (ticks of USER_HZ, which Linux fixes at 100 for user space).
pub fn cpu_times() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; the fields we want follow its closing ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of the full line, utime 14, stime 15.
    let ticks = |i: usize| f.get(i - 3).and_then(|x| x.parse::<u64>().ok());
    Some((ticks(14)? as f64 / 100.0, ticks(15)? as f64 / 100.0))
}

/// Current resident memory (VmRSS), in bytes.
pub fn rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[derive(Debug, Serialize)]
pub struct IngestBench {
    pub files: Vec<PathBuf>,
    pub file_bytes: u64,
    pub packets: u64,
    pub flows: u64,
    /// Devices in the registry packets were attributed with (0: none given).
    pub registered_devices: usize,
    /// Entries of the per-device packet index built by the ingest.
    pub index_entries: u64,
    pub threads: usize,
    /// Median of `runs` ingests (the figure the ratios use).
    pub labelbench_s: f64,
    /// Every run's time, in run order.
    pub labelbench_runs_s: Vec<f64>,
    /// CPU seconds (user, system; all threads) of the median-time run: what the parse costs
    /// beside how long it takes on this machine's cores.
    pub labelbench_cpu_s: Option<(f64, f64)>,
    pub labelbench_pkts_per_s: f64,
    pub labelbench_mb_per_s: f64,
    /// Median of the `cat` times, each taken right before a run.
    pub cat_s: f64,
    /// Every run's `cat` time, in run order.
    pub cat_runs_s: Vec<f64>,
    pub tshark_s: Option<f64>,
    pub tshark_pkts_per_s: Option<f64>,
    /// Median of the runs' ratios to the `cat` timed right before each.
    pub ratio_vs_cat: f64,
    /// Every run's ratio to its `cat`, in run order.
    pub ratios_vs_cat: Vec<f64>,
    pub speedup_vs_tshark: Option<f64>,
    pub peak_rss_bytes: u64,
    pub rss_before_bytes: u64,
    pub packet_store_bytes_per_packet: usize,
    /// None when no packet was read (there is nothing to divide by).
    pub peak_bytes_per_packet: Option<f64>,
    pub flow_table_bytes: u64,
    /// Writing the derived cache after the parse.
    pub cache_write_s: Option<f64>,
    pub cache_bytes: Option<u64>,
    /// Reopening from the derived cache: validating every input's stamp, then reading it.
    pub cache_load_s: Option<f64>,
    pub cache_ratio_vs_cat: Option<f64>,
    /// The captures' warnings and errors (as `inspect` lists them): the figures count only
    /// the packets that were read.
    pub warnings: Vec<String>,
}

fn time_cmd(cmd: &str, args: &[&str]) -> Option<f64> {
    let t = Instant::now();
    let st = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    st.success().then(|| t.elapsed().as_secs_f64())
}

/// Times `runs` ingests of `files` (reporting the median) against `cat` and optionally
/// `tshark`, measures peak memory, and with `with_cache` the derived cache's write and reopen.
///
/// `registry` is the device registry packets are attributed with, as a project load does
/// (empty: every MAC becomes an unregistered device, so e.g. a gateway's lane indexes nearly
/// every packet a second time).
pub fn ingest(
    files: &[PathBuf],
    registry: &Registry,
    (with_tshark, runs, with_cache): (bool, usize, bool),
    timeouts: &traffic::FlowTimeouts,
) -> IngestBench {
    let file_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    // Warm the page cache, then time `cat` as the read limit.
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let refs: Vec<&str> = paths.iter().map(|s| s.as_str()).collect();
    let _ = time_cmd("cat", &refs);
    let rss_before = rss().unwrap_or(0);
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    // `cat` is timed right before each run, so each run has a baseline from the same minute:
    // this VM's speed, and `cat`'s with it, drifts by a quarter within the hour. It also
    // keeps the input in the page cache for the run.
    let mut cat_times = Vec::new();
    let (mut reg, mut tr) = (registry.clone(), traffic::Traffic::default());
    for _ in 0..runs.max(1) {
        drop(std::mem::take(&mut tr));
        cat_times.push(time_cmd("cat", &refs).unwrap_or(f64::NAN));
        reg = registry.clone();
        let c0 = cpu_times();
        let t = Instant::now();
        tr = traffic::ingest(files, &mut reg, None, timeouts);
        times.push(t.elapsed().as_secs_f64());
        cpus.push(c0.zip(cpu_times()).map(|(a, b)| (b.0 - a.0, b.1 - a.1)));
    }
    let median_of = |v: &[f64]| {
        let mut o: Vec<usize> = (0..v.len()).collect();
        o.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        o[o.len() / 2]
    };
    let median = median_of(&times);
    let labelbench_s = times[median];
    let labelbench_cpu_s = cpus[median];
    let cat_s = cat_times[median_of(&cat_times)];
    let ratios: Vec<f64> = times
        .iter()
        .zip(&cat_times)
        .map(|(t, c)| t / c.max(1e-9))
        .collect();
    let ratio_vs_cat = ratios[median_of(&ratios)];
    let peak = peak_rss().unwrap_or(0);
    let packets = tr.packets.len() as u64;
    let flows = tr.flows.len() as u64;
    let index_entries = tr.by_device.iter().map(|v| v.len() as u64).sum();
    let warnings = tr.issues.iter().map(|i| i.to_string()).collect();
    let flow_table_bytes = flows * std::mem::size_of::<traffic::Flow>() as u64;
    // The derived cache, in a scratch folder: write it, then time a reopen that validates the
    // inputs' stamps and reads the columns back.
    let scratch = std::env::temp_dir().join(format!("labelbench-bench-{}", std::process::id()));
    let (mut cache_write_s, mut cache_load_s, mut cache_bytes) = (None, None, None);
    if with_cache && std::fs::create_dir_all(&scratch).is_ok() {
        let cpath = scratch.join("bench.labelbench.cache");
        let t = Instant::now();
        let added: Vec<[u8; 6]> = reg.devices[registry.len()..]
            .iter()
            .map(|d| d.mac.unwrap_or([0; 6]))
            .collect();
        if let Ok(key) = crate::traffic::cache::key(files, registry, timeouts) {
            if crate::traffic::cache::write(&cpath, &key, &tr, added, registry.len()).is_ok() {
                cache_write_s = Some(t.elapsed().as_secs_f64());
                cache_bytes = std::fs::metadata(&cpath).ok().map(|m| m.len());
                drop(tr);
                let t = Instant::now();
                let mut reg2 = registry.clone();
                let back = crate::traffic::cache::key(files, &reg2, timeouts)
                    .map_err(|e| e.to_string())
                    .and_then(|k| crate::traffic::cache::read(&cpath, &k, &mut reg2, None));
                let took = t.elapsed().as_secs_f64();
                // Only a complete reopen counts.
                if back.is_ok_and(|b| b.packets.len() as u64 == packets) {
                    cache_load_s = Some(took);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let tshark_s = if with_tshark {
        let mut total = 0.0;
        let mut ok = true;
        for f in &paths {
            match time_cmd(
                "tshark",
                &[
                    "-n",
                    "-r",
                    f,
                    "-T",
                    "fields",
                    "-e",
                    "frame.time_epoch",
                    "-e",
                    "ip.len",
                    "-e",
                    "tcp.len",
                    "-e",
                    "ip.ttl",
                ],
            ) {
                Some(s) => total += s,
                None => ok = false,
            }
        }
        ok.then_some(total)
    } else {
        None
    };
    let pk = packets.max(1) as f64;
    IngestBench {
        files: files.to_vec(),
        file_bytes,
        packets,
        flows,
        registered_devices: registry.len(),
        index_entries,
        threads: rayon::current_num_threads(),
        labelbench_s,
        labelbench_runs_s: times,
        labelbench_cpu_s,
        labelbench_pkts_per_s: pk / labelbench_s,
        labelbench_mb_per_s: file_bytes as f64 / 1e6 / labelbench_s,
        cat_s,
        cat_runs_s: cat_times,
        tshark_s,
        tshark_pkts_per_s: tshark_s.map(|s| pk / s),
        ratio_vs_cat,
        ratios_vs_cat: ratios,
        speedup_vs_tshark: tshark_s.map(|s| s / labelbench_s),
        peak_rss_bytes: peak,
        rss_before_bytes: rss_before,
        packet_store_bytes_per_packet: traffic::Packets::BYTES_PER_PACKET,
        peak_bytes_per_packet: (packets > 0).then(|| {
            peak.saturating_sub(rss_before)
                .saturating_sub(flow_table_bytes) as f64
                / pk
        }),
        flow_table_bytes,
        cache_write_s,
        cache_bytes,
        cache_load_s,
        cache_ratio_vs_cat: cache_load_s.map(|c| c / cat_s.max(1e-9)),
        warnings,
    }
}

impl IngestBench {
    pub fn render(&self) -> String {
        let mut s = String::new();
        s += &format!(
            "input        {} files, {:.1} MB, {} packets, {} flows; {}, {:.2} index entries a packet\n",
            self.files.len(),
            self.file_bytes as f64 / 1e6,
            self.packets,
            self.flows,
            match self.registered_devices {
                0 => "no registry".to_string(),
                n => format!("{n} registered devices"),
            },
            self.index_entries as f64 / self.packets.max(1) as f64
        );
        let runs: Vec<String> = self
            .labelbench_runs_s
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect();
        s += &format!(
            "labelbench   {:.3} s (median of {} runs: {} s)  {:.2} M packets/s  {:.0} MB/s  ({} threads)\n",
            self.labelbench_s,
            runs.len(),
            runs.join(", "),
            self.labelbench_pkts_per_s / 1e6,
            self.labelbench_mb_per_s,
            self.threads
        );
        // /proc counts CPU time in 10 ms ticks: too coarse for small inputs.
        if let Some((u, k)) = self.labelbench_cpu_s.filter(|(u, k)| u + k >= 0.1) {
            s += &format!(
                "             CPU {:.2} s in that run (user {u:.2} s, system {k:.2} s) = {:.0} ns/packet\n",
                u + k,
                (u + k) * 1e9 / self.packets.max(1) as f64
            );
        }
        let list = |v: &[f64], prec: usize| {
            v.iter()
                .map(|x| format!("{x:.prec$}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s += &format!(
            "cat          {:.3} s (median; before each run: {} s)\n",
            self.cat_s,
            list(&self.cat_runs_s, 3)
        );
        s += &format!(
            "ratio        labelbench/cat {:.2}× (median of the runs' ratios to their own cat: {})\n",
            self.ratio_vs_cat,
            list(&self.ratios_vs_cat, 2)
        );
        match (
            self.tshark_s,
            self.tshark_pkts_per_s,
            self.speedup_vs_tshark,
        ) {
            (Some(t), Some(r), Some(x)) => {
                s += &format!(
                    "tshark       {:.3} s  {:.0} packets/s → labelbench is {:.0}× faster\n",
                    t, r, x
                )
            }
            _ => s += "tshark       not run (missing or --no-tshark)\n",
        }
        if let (Some(w), Some(l), Some(b), Some(r)) = (
            self.cache_write_s,
            self.cache_load_s,
            self.cache_bytes,
            self.cache_ratio_vs_cat,
        ) {
            s += &format!(
                "cache        written in {w:.3} s ({:.1} MB); reopen from it {l:.3} s → {r:.2}× cat's time on the captures\n",
                b as f64 / 1e6
            );
        }
        let rss = format!(
            "memory       peak RSS {:.1} MB (before {:.1} MB); ",
            self.peak_rss_bytes as f64 / 1e6,
            self.rss_before_bytes as f64 / 1e6,
        );
        s += &rss;
        s += &match self.peak_bytes_per_packet {
            None => "no packets read, so no figure per packet\n".to_string(),
            Some(b) => format!(
                "{b:.1} bytes/packet above baseline excluding the flow table ({:.1} MB); store {} bytes/packet\n",
                self.flow_table_bytes as f64 / 1e6,
                self.packet_store_bytes_per_packet
            ),
        };
        if !self.warnings.is_empty() {
            // The figures count only what was read: say what was not.
            s += &format!(
                "warnings     {} (the figures count only the packets read):\n",
                self.warnings.len()
            );
            for w in self.warnings.iter().take(5) {
                s += &format!("  {w}\n");
            }
            if self.warnings.len() > 5 {
                s += &format!("  … and {} more\n", self.warnings.len() - 5);
            }
        }
        s
    }
}

/// One curation-quality measurement.
#[derive(Debug, Serialize)]
pub struct CurationRow {
    /// `default` or `real-lab` (see [`crate::devtools::sim::Defects::real_lab`]).
    pub lab: String,
    pub seed: u64,
    pub devices: usize,
    pub days: u32,
    pub packets: u64,
    pub events: usize,
    pub load_s: f64,
    pub curate_s: f64,
    pub edits: usize,
    pub quality: crate::devtools::evaluate::CurationQuality,
}

/// Generates simulator projects and measures curation against their ground truth.
pub fn curation(
    out: &std::path::Path,
    seeds: &[u64],
    devices: &[usize],
    days: u32,
    labs: &[String],
) -> crate::Result<Vec<CurationRow>> {
    use crate::curation::{run_all, Acceptance};
    use crate::devtools::sim::Defects;
    let mut rows = Vec::new();
    for lab in labs {
        for &n in devices {
            for &seed in seeds {
                let dir = out.join(format!("sim-{lab}-{n}dev-{days}d-seed{seed}"));
                let defects = match lab.as_str() {
                    "default" => Defects::default(),
                    "real-lab" => Defects::real_lab(),
                    "no-zone" => Defects {
                        omit_zone: true,
                        ..Defects::real_lab()
                    },
                    "small-commands" => Defects::small_commands(),
                    "drift" => Defects::drift(),
                    other => {
                        return Err(crate::Error::Other(format!(
                            "unknown lab {other:?} (default, real-lab, no-zone, small-commands or drift)"
                        )))
                    }
                };
                let o = crate::devtools::sim::SimOptions {
                    devices: n,
                    days,
                    seed,
                    defects,
                    ..Default::default()
                };
                let rep = crate::devtools::sim::generate(&dir, &o)?;
                let t = Instant::now();
                let mut s =
                    crate::project::session::Session::open(&rep.project, Default::default(), None)?;
                let load_s = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let (_, edits) = run_all(&mut s, &Acceptance::all(), &Default::default())?;
                let curate_s = t.elapsed().as_secs_f64();
                let quality = crate::devtools::evaluate::against_ground_truth(
                    &s,
                    &dir.join("ground-truth.csv"),
                )?;
                rows.push(CurationRow {
                    lab: lab.clone(),
                    seed,
                    devices: n,
                    days,
                    packets: rep.packets,
                    events: s.labels.events.len(),
                    load_s,
                    curate_s,
                    edits,
                    quality,
                });
            }
        }
    }
    Ok(rows)
}

pub fn render_curation(rows: &[CurationRow]) -> String {
    let mut s = String::from("lab       devices days seed   packets events  load_s curate_s  dup_P  dup_R  minute_events  |err| median/p95 s (before)  IFTTT alone  wrongly rejected\n");
    for r in rows {
        let q = &r.quality;
        s += &format!(
            "{:<9} {:>7} {:>4} {:>4} {:>9} {:>6} {:>7.2} {:>8.2} {:>6.3} {:>6.3} {:>14}  {:.2} / {:.2}  ({:.1} / {:.1})  {}: {:.2} / {:.2}  {}\n",
            r.lab, r.devices, r.days, r.seed, r.packets, r.events, r.load_s, r.curate_s, q.dup_precision, q.dup_recall,
            q.minute_events, q.median_abs_error_s, q.p95_abs_error_s, q.median_abs_error_before_s, q.p95_abs_error_before_s,
            q.ifttt_events, q.ifttt_median_abs_error_s, q.ifttt_p95_abs_error_s, q.wrongly_rejected
        );
    }
    s
}
