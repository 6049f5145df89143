//! `export --by-day`: the export of a project that reads a traffic dataset, a UTC day at a
//! time, so that memory follows the largest day rather than the whole span.
//!
//! Events and features come from one slice of the project per day (as `export --from D --to
//! D+1` reads it) and are written as one table each, in the order of an export at once.
//! Flows come from a [`FlowStream`] fed the dataset a day at a time, with every open flow
//! carried over midnight, so they equal an export at once flow for flow; they are written as
//! `flows/part-DAY.EXT` (the flows that ended on that day's pass, by `flow_id`) with a Zeek
//! log per part in `conn/`.

use super::*;
use crate::progress::Progress;
use crate::project::session::OpenOptions;
use crate::traffic::dataset::{self, TrafficFilter};
use crate::traffic::{DeviceStats, FlowStream, StreamedFlow};

/// Exports the project at `project` into `out` a day at a time (see the module docs); `filter`
/// names the devices read (as `--only-devices`), `o.range` bounds the days.
pub fn export_by_day(
    project: &Path,
    out: &Path,
    o: &ExportOptions,
    filter: &TrafficFilter,
    report_json: Option<&Path>,
    progress: Option<&Progress>,
) -> Result<ExportReport> {
    let opts = OpenOptions {
        journal: true,
        cache: true,
    };
    if o.pcapng {
        return Err(Error::invalid(
            project,
            "--by-day writes no annotated pcapng (one per device would hold the whole span); \
             export each day with --from/--to --pcapng instead",
        ));
    }
    let mut s0 = Session::open_without_packets(project, opts, filter)?;
    let data = s0.traffic_dir().unwrap_or_default();
    let o = &ExportOptions {
        only_devices: device_indices(&mut s0, filter)?,
        by_day: true,
        ..o.clone()
    };
    let days = s0.day_slices(o.range)?;
    let protected = s0.protected_paths();
    write_staged(out, o.force, &protected, |dir| {
        let job = ByDay {
            project,
            data: &data,
            dir,
            o,
            filter,
            days: &days,
            progress,
        };
        job.run(&mut s0, report_json)
    })
}

/// The registry indices of the filter's devices ([`NO_DEVICE`] for `-`). An unregistered
/// device (named by its MAC, as the dataset's partitions name it) joins the registry if the
/// packets read have not added it (none are, before a day-at-a-time export); any other name
/// the registry lacks is an error, not an empty export.
pub fn device_indices(
    s: &mut Session,
    filter: &TrafficFilter,
) -> Result<Option<std::collections::BTreeSet<u16>>> {
    let Some(names) = &filter.devices else {
        return Ok(None);
    };
    let mut set = std::collections::BTreeSet::new();
    for n in names {
        if n == dataset::NO_DEVICE_NAME {
            set.insert(NO_DEVICE);
            continue;
        }
        let unregistered = crate::traffic::devices::parse_mac(n);
        let i = match (s.registry.by_name(n), unregistered) {
            (Some(i), _) => i,
            (None, Some(mac)) => s.registry.add_unregistered(mac),
            (None, None) => {
                return Err(Error::invalid(
                    Path::new("--only-devices"),
                    format!("no device named {n:?} in the registry"),
                ))
            }
        };
        set.insert(i);
    }
    Ok(Some(set))
}

/// `2021-03-10`.
fn date(day: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(day)
        .format("%Y-%m-%d")
        .to_string()
}

/// One by-day export in its staging folder.
struct ByDay<'a> {
    project: &'a Path,
    data: &'a Path,
    dir: &'a Path,
    o: &'a ExportOptions,
    filter: &'a TrafficFilter,
    /// Each day's `[from, to)`, cut to the export's range.
    days: &'a [(i64, i64)],
    progress: Option<&'a Progress>,
}

/// What the day slices give: the events and features tables, every feature row (for the
/// conn logs' labels and the card), the events left out and the pcap slices.
#[derive(Default)]
struct Labelled {
    events: Option<DataFrame>,
    features: Option<DataFrame>,
    feats: Vec<FeatureRow>,
    left_out: features::LeftOut,
    slice_files: Vec<SliceFile>,
}

impl ByDay<'_> {
    fn stage(&self, what: &str, k: usize) {
        if let Some(p) = self.progress {
            p.set_stage(what, self.days.len() as u64);
            p.add(k as u64);
        }
    }

    fn run(&self, s0: &mut Session, report_json: Option<&Path>) -> Result<ExportReport> {
        let ext = self.o.format.ext();
        let prov = Provenance::of(s0)?;
        let mut lab = self.labelled(s0)?;
        let mut rows = BTreeMap::new();
        let (traffic, flow_schema) = self.flows(s0, &lab.feats, &prov.kv, &mut rows)?;
        let evs = exported_events(s0, self.o);
        let schemas = std::sync::Mutex::new(BTreeMap::new());
        let cx = Tables {
            s: s0,
            dir: self.dir,
            o: self.o,
            ext,
            evs: &evs,
            feats: &lab.feats,
            w: s0.project.window,
            traffic: &traffic,
            kv: &prov.kv,
            schemas: &schemas,
        };
        for (name, df) in [("events", &mut lab.events), ("features", &mut lab.features)] {
            let p = self.dir.join(format!("{name}.{ext}"));
            let mut df = df.take().unwrap_or_default();
            rows.insert(format!("{name}.{ext}"), df.height());
            write_table(&mut df, &p, self.o.format, &cx)?;
        }
        schemas
            .lock()
            .expect("schemas lock")
            .insert(format!("flows/part-*.{ext}"), flow_schema);
        write_devices(&cx, &mut rows)?;
        let written = Written {
            rows,
            slice_files: std::mem::take(&mut lab.slice_files),
            pcapng_files: Vec::new(),
            left_out: lab.left_out,
        };
        write_card_and_manifest(&cx, &prov, written, report_json)
    }

    /// Events and features, a day slice at a time; the tables in an export at once's order.
    fn labelled(&self, s0: &Session) -> Result<Labelled> {
        let mut lab = Labelled::default();
        // The journal is read, never appended to: no lock is taken.
        let opts = OpenOptions {
            journal: true,
            cache: true,
        };
        let w = s0.project.window;
        let p = self.dir.join("events");
        for (k, &range) in self.days.iter().enumerate() {
            self.stage(&format!("events of {}", date(range.0)), k);
            let s = Session::open_slice(self.project, opts, self.filter, range, None)?;
            let o = ExportOptions {
                range: Some(range),
                ..self.o.clone()
            };
            let seed = s.project.training.seed;
            let (feats, left) = features::slice_rows(&s, &w, seed, range, |d| o.exports_device(d));
            lab.left_out.add(&left);
            let evs = exported_events(&s, &o);
            append(&mut lab.events, events_frame(&s, &evs, &w, &p)?, &p)?;
            append(&mut lab.features, features_frame(&s, &feats, &p)?, &p)?;
            if o.pcap_slices {
                let fmap: HashMap<u64, &FeatureRow> =
                    feats.iter().map(|r| (r.event_id, r)).collect();
                let dir = self.dir.join("slices");
                lab.slice_files
                    .extend(pcap_slices(&s, &evs, &fmap, &dir, false)?);
            }
            lab.feats.extend(feats);
        }
        // An export at once writes events in the project's order and features by event id.
        let order: HashMap<u64, u32> = s0
            .labels
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id, i as u32))
            .collect();
        lab.events = lab
            .events
            .take()
            .map(|df| {
                sort_by_key(
                    df,
                    "event_id",
                    |id| order.get(&id).copied().unwrap_or(0) as u64,
                    &p,
                )
            })
            .transpose()?;
        lab.features = lab
            .features
            .take()
            .map(|df| sort_by_key(df, "event_id", |id| id, &p))
            .transpose()?;
        lab.feats.sort_by_key(|r| r.event_id);
        lab.slice_files.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(lab)
    }

    /// The flow stream over the days with packets, writing each day's ended flows and their
    /// conn log; returns the traffic's totals. `s0` takes the registry the stream extended
    /// with the unregistered devices it met.
    fn flows(
        &self,
        s0: &mut Session,
        feats: &[FeatureRow],
        kv: &[(String, String)],
        rows: &mut BTreeMap<String, usize>,
    ) -> Result<(TrafficSummary, CardColumns)> {
        let mut schema = CardColumns::new();
        let mut reg = s0.registry.clone();
        let mut stream = FlowStream::new(s0.project.flows);
        let (mut packets, mut bytes) = (0u64, 0u64);
        let mut issues = Vec::new();
        for (k, &day) in self.days.iter().enumerate() {
            self.stage(&format!("flows of {}", date(day.0)), k);
            let (a, b) = day;
            let f = TrafficFilter {
                range: Some((a, b - 1)),
                ..self.filter.clone()
            };
            let parsed = dataset::read_inputs(self.data, &reg, &f)?;
            for fp in &parsed {
                packets += fp.cols.rows.len() as u64;
                bytes += fp.cols.rows.iter().map(|r| r.orig_len as u64).sum::<u64>();
                // An input that cannot be read is named once, however many days it spans.
                for i in fp.issues.iter().filter(|i| i.fatal) {
                    let text = i.to_string();
                    if !issues.contains(&text) {
                        issues.push(text);
                    }
                }
            }
            stream
                .feed(parsed, &mut reg)
                .map_err(|e| Error::invalid(self.data, e))?;
            let ended = match k + 1 == self.days.len() {
                true => break,
                false => stream.take_ended(),
            };
            schema = self.write_part(s0, &reg, day, ended, feats, kv, rows)?;
        }
        let (rest, devices) = stream.finish();
        if let Some(&last) = self.days.last() {
            schema = self.write_part(s0, &reg, last, rest, feats, kv, rows)?;
        }
        s0.registry = reg;
        let stats: Vec<DeviceStats> = devices
            .iter()
            .map(|d| DeviceStats {
                packets: d.packets,
                bytes: d.bytes,
                flows: d.flows,
                first_ns: d.first_ns,
                last_ns: d.last_ns,
            })
            .chain(std::iter::repeat_with(DeviceStats::default))
            .take(s0.registry.len())
            .collect();
        let summary = TrafficSummary {
            packets,
            bytes,
            first_ns: stats.iter().filter_map(|d| d.first_ns).min(),
            last_ns: stats.iter().filter_map(|d| d.last_ns).max(),
            stats,
            problems: issues,
        };
        Ok((summary, schema))
    }

    /// Writes the flows that ended on `day`'s pass (those the export keeps) as
    /// `flows/part-DAY.EXT` and `conn/conn.DAY.log`; returns the part's columns.
    #[allow(clippy::too_many_arguments)]
    fn write_part(
        &self,
        s0: &Session,
        reg: &crate::traffic::devices::Registry,
        day: (i64, i64),
        ended: Vec<StreamedFlow>,
        feats: &[FeatureRow],
        kv: &[(String, String)],
        rows: &mut BTreeMap<String, usize>,
    ) -> Result<CardColumns> {
        let o = self.o;
        let kept: Vec<&StreamedFlow> = ended
            .iter()
            .filter(|f| o.exports_device(f.flow.device) && o.exports_time(f.flow.first_ns))
            .collect();
        let name = |d: u16| match d {
            crate::traffic::NO_DEVICE => "-".to_string(),
            d => reg
                .devices
                .get(d as usize)
                .map_or_else(String::new, |x| x.name.clone()),
        };
        let ext = o.format.ext();
        let file = format!("flows/part-{}.{ext}", date(day.0));
        let p = self.dir.join(&file);
        std::fs::create_dir_all(self.dir.join("flows")).map_err(|e| Error::io(self.dir, e))?;
        let fl: Vec<&Flow> = kept.iter().map(|f| &f.flow).collect();
        let ids: Vec<u64> = kept.iter().map(|f| f.id).collect();
        let mut df = flows_frame(&fl, &ids, &name, &p)?;
        rows.insert(file, df.height());
        let schema = write_frame(&mut df, &p, o.format, kv)?;
        let conn: Vec<zeek::ConnFlow<'_>> = kept
            .iter()
            .map(|f| zeek::ConnFlow {
                id: f.id,
                flow: &f.flow,
                ip_bytes: f.ip_bytes,
            })
            .collect();
        let labels = zeek::flow_labels(&conn, feats, &|d| s0.traffic_device(d));
        let file = format!("conn/conn.{}.log", date(day.0));
        std::fs::create_dir_all(self.dir.join("conn")).map_err(|e| Error::io(self.dir, e))?;
        let span = day;
        let n = zeek::write_conn(
            &self.dir.join(&file),
            &conn,
            &labels,
            &name,
            (span.0, span.1 - 1),
        )?;
        rows.insert(file, n);
        Ok(schema)
    }
}

/// Appends a day's rows to a table.
fn append(acc: &mut Option<DataFrame>, df: DataFrame, p: &Path) -> Result<()> {
    match acc {
        None => *acc = Some(df),
        Some(a) => {
            a.vstack_mut(&df).map_err(|e| polars_err(p, e))?;
        }
    }
    Ok(())
}

/// The rows of `df` ordered by `key` of their u64 column `col`.
fn sort_by_key(df: DataFrame, col: &str, key: impl Fn(u64) -> u64, p: &Path) -> Result<DataFrame> {
    let ids: Vec<u64> = df
        .column(col)
        .and_then(|c| c.u64().map(|c| c.into_no_null_iter().collect()))
        .map_err(|e| polars_err(p, e))?;
    let mut idx: Vec<IdxSize> = (0..ids.len() as IdxSize).collect();
    idx.sort_by_key(|&i| (key(ids[i as usize]), i));
    let idx = IdxCa::from_vec("idx".into(), idx);
    df.take(&idx).map_err(|e| polars_err(p, e))
}
