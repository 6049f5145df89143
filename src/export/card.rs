//! The dataset card: `README.md` for the people who will load the dataset (what was captured,
//! the devices, the sources with their zones and offsets, what curation changed, the classes,
//! the feature window, how to load it) and `croissant.json` (MLCommons Croissant 1.0: the
//! files with their SHA-256 and typed record sets) for dataset hubs and `mlcroissant`. Both are
//! functions of the export's inputs: no clock, no host name.

use std::fmt::Write as _;

use super::*;

/// Croissant 1.0's JSON-LD context, as the specification gives it.
fn croissant_context() -> serde_json::Value {
    serde_json::json!({
        "@language": "en",
        "@vocab": "https://schema.org/",
        "citeAs": "cr:citeAs",
        "column": "cr:column",
        "conformsTo": "dct:conformsTo",
        "cr": "http://mlcommons.org/croissant/",
        "rai": "http://mlcommons.org/croissant/RAI/",
        "data": {"@id": "cr:data", "@type": "@json"},
        "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
        "dct": "http://purl.org/dc/terms/",
        "equivalentProperty": "cr:equivalentProperty",
        "examples": {"@id": "cr:examples", "@type": "@json"},
        "extract": "cr:extract",
        "field": "cr:field",
        "fileProperty": "cr:fileProperty",
        "fileObject": "cr:fileObject",
        "fileSet": "cr:fileSet",
        "format": "cr:format",
        "includes": "cr:includes",
        "isLiveDataset": "cr:isLiveDataset",
        "jsonPath": "cr:jsonPath",
        "key": "cr:key",
        "md5": "cr:md5",
        "parentField": "cr:parentField",
        "path": "cr:path",
        "recordSet": "cr:recordSet",
        "references": "cr:references",
        "regex": "cr:regex",
        "repeated": "cr:repeated",
        "replace": "cr:replace",
        "samplingRate": "cr:samplingRate",
        "sc": "https://schema.org/",
        "separator": "cr:separator",
        "source": "cr:source",
        "subField": "cr:subField",
        "transform": "cr:transform"
    })
}

/// A column's Croissant type.
pub(crate) fn croissant_type(d: &DataType) -> &'static str {
    match d {
        DataType::Boolean => "sc:Boolean",
        DataType::Float32 | DataType::Float64 => "sc:Float",
        DataType::Datetime(..) => "sc:DateTime",
        d if d.is_integer() => "sc:Integer",
        _ => "sc:Text",
    }
}

fn encoding(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("parquet") => "application/x-parquet",
        Some("csv") => "text/csv",
        Some("json") => "application/jsonlines",
        Some("log") => "text/tab-separated-values",
        _ => "application/octet-stream",
    }
}

/// A Croissant file set: the files under the export that `includes` (a glob) matches.
fn file_set(id: &str, description: &str, encoding: &str, includes: &str) -> serde_json::Value {
    serde_json::json!({
        "@type": "cr:FileSet",
        "@id": id,
        "name": id,
        "description": description,
        "encodingFormat": encoding,
        "includes": includes,
    })
}

/// Writes `croissant.json` over the data files written so far.
pub(crate) fn write_croissant(cx: &Tables<'_>, title: &str) -> Result<()> {
    let schemas = cx.schemas.lock().expect("schemas lock").clone();
    let mut distribution = Vec::new();
    // A table written in parts (`flows/part-*.parquet`) is a file set; the rest are files.
    let mut files: Vec<String> = schemas
        .keys()
        .filter(|f| !f.contains('*'))
        .cloned()
        .collect();
    if cx.dir.join("flows.conn.log").is_file() {
        files.push("flows.conn.log".into());
    }
    files.sort();
    for pattern in schemas.keys().filter(|f| f.contains('*')) {
        // Its own id: the record set of the same table is named by the table.
        let set = pattern.split('/').next().unwrap_or(pattern);
        distribution.push(file_set(
            &format!("{set}-parts"),
            "The table in parts, one per day of the export.",
            encoding(pattern),
            pattern,
        ));
    }
    if cx.dir.join("conn").is_dir() {
        distribution.push(file_set(
            "conn",
            "The IP flows as labelled Zeek conn logs, one per day of the export.",
            encoding("conn.log"),
            "conn/*.log",
        ));
    }
    for f in &files {
        let (_, sha) = sha256_file(&cx.dir.join(f))?;
        distribution.push(serde_json::json!({
            "@type": "cr:FileObject",
            "@id": f,
            "name": f,
            "contentUrl": f,
            "encodingFormat": encoding(f),
            "sha256": sha,
        }));
    }
    if cx.dir.join("slices").is_dir() {
        let (ext, enc) = match cx.o.pcapng {
            true => ("pcapng", "application/x-pcapng"),
            false => ("pcap", "application/vnd.tcpdump.pcap"),
        };
        distribution.push(file_set(
            "slices",
            "One capture per exported event: its device's packets in its window.",
            enc,
            &format!("slices/*.{ext}"),
        ));
    }
    if cx.dir.join("pcapng").is_dir() {
        distribution.push(file_set(
            "pcapng",
            "One pcapng per device; packets in an event's window carry its comment.",
            "application/x-pcapng",
            "pcapng/*.pcapng",
        ));
    }
    let mut record_sets = Vec::new();
    for (file, cols) in &schemas {
        let set = file.split(['.', '/']).next().unwrap_or(file);
        let source = match file.contains('*') {
            true => serde_json::json!({"fileSet": {"@id": format!("{set}-parts")}}),
            false => serde_json::json!({"fileObject": {"@id": file}}),
        };
        let fields: Vec<serde_json::Value> = cols
            .iter()
            .map(|(name, ty)| {
                serde_json::json!({
                    "@type": "cr:Field",
                    "@id": format!("{set}/{name}"),
                    "name": name,
                    "dataType": ty,
                    "source": with_column(&source, name),
                })
            })
            .collect();
        record_sets.push(serde_json::json!({
            "@type": "cr:RecordSet",
            "@id": set,
            "name": set,
            "description": table_description(set),
            "field": fields,
        }));
    }
    let card = serde_json::json!({
        "@context": croissant_context(),
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": title,
        "description": format!(
            "Smart-home network traffic labelled with device events, curated and exported by \
             labelbench {}: events with provenance, per-event features, flows (also as a \
             labelled Zeek conn.log) and devices. See README.md.",
            env!("CARGO_PKG_VERSION")
        ),
        "url": "README.md",
        "license": "Fill in: the licence under which the owner publishes this dataset.",
        "version": "1.0.0",
        "distribution": distribution,
        "recordSet": record_sets,
    });
    let p = cx.dir.join("croissant.json");
    let text = serde_json::to_string_pretty(&card).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(&p, text + "\n").map_err(|e| Error::io(&p, e))
}

/// A field's source: the file (or file set) and the column extracted from it.
fn with_column(source: &serde_json::Value, column: &str) -> serde_json::Value {
    let mut v = source.clone();
    v["extract"] = serde_json::json!({"column": column});
    v
}

fn table_description(set: &str) -> &'static str {
    match set {
        "events" => {
            "One row per label with its provenance (source file and line), original \
                     and adjusted times, curation status and feature window."
        }
        "features" => {
            "One row per active event with traffic: the window and 40 features of \
                       the device's packets in it."
        }
        "flows" => {
            "Every flow: endpoints, ports, MACs, first and last packet, packets and \
                    bytes per direction, how it ended, Community ID."
        }
        "devices" => "The registry with what the captures saw of each device.",
        _ => "",
    }
}

/// Writes `README.md`: the dataset card for people.
pub(crate) fn write_readme(
    cx: &Tables<'_>,
    title: &str,
    rows: &BTreeMap<String, usize>,
) -> Result<()> {
    let s = cx.s;
    let mut md = String::new();
    let t = cx.traffic;
    let utc = |ns: Option<i64>| ns.map_or("-".to_string(), crate::timefmt::utc);
    let _ = writeln!(md, "# {title}\n");
    let _ = writeln!(
        md,
        "Smart-home network traffic labelled with device events: {} packets ({}) in {} \
         capture files from {} to {} (UTC), {} labels from {} sources, curated and exported \
         by labelbench {}.\n",
        crate::numfmt::grouped(t.packets),
        crate::numfmt::human_bytes(t.bytes),
        s.capture_files.len(),
        utc(t.first_ns),
        utc(t.last_ns),
        crate::numfmt::grouped(s.labels.events.len() as u64),
        s.sources.len(),
        env!("CARGO_PKG_VERSION"),
    );
    if let Some((a, b)) = cx.o.range {
        let _ = writeln!(
            md,
            "This export is one time slice: the events whose time (UTC) lies from {} to {}, \
             their features, and the flows that start then.\n",
            if a == i64::MIN {
                "the start".into()
            } else {
                utc(Some(a))
            },
            if b == i64::MAX {
                "the end".into()
            } else {
                utc(Some(b))
            },
        );
    }
    let _ = writeln!(
        md,
        "**Licence**: _fill in the licence under which you publish this dataset._\n"
    );
    write_files_section(&mut md, cx, rows);
    write_devices_section(&mut md, s, &t.stats);
    write_sources_section(&mut md, s);
    write_classes_section(&mut md, cx);
    let w = &cx.w;
    let _ = writeln!(md, "## Features\n");
    let _ = writeln!(
        md,
        "Each active event's window is {} (`window_start_ns`, `window_end_ns`); its features \
         are computed over the packets of the event's device (its hub's for a device behind \
         one) in that window{}: {}.\n",
        w.describe(),
        if w.idle_class {
            ", and `idle` rows sample windows away from every event"
        } else {
            ""
        },
        features::names().join(", ")
    );
    let _ = writeln!(md, "## Flows\n");
    let _ = writeln!(
        md,
        "Flows end by {}. `flows.conn.log` holds the IP flows as a Zeek conn.log; a flow's \
         `label` is the set of classes of the active events of its device whose window it \
         overlaps, `-` where none does (unlabelled, not known to be benign).\n",
        s.project.flows.describe()
    );
    write_loading_section(&mut md, cx.ext, cx.o.by_day);
    let p = cx.dir.join("README.md");
    std::fs::write(&p, md).map_err(|e| Error::io(&p, e))
}

fn write_files_section(md: &mut String, cx: &Tables<'_>, rows: &BTreeMap<String, usize>) {
    let _ = writeln!(md, "## Files\n\n| file | rows | what |\n|---|---|---|");
    for (file, n) in super::grouped_rows(rows) {
        let set = file.split(['.', '/']).next().unwrap_or(&file);
        let what = match set {
            "conn" => "the IP flows as labelled Zeek conn logs, one per day",
            "flows" if file.contains('*') => {
                "every flow (as `flows`), in parts: the flows that ended on each day"
            }
            _ if file == "flows.conn.log" => "the IP flows as a labelled Zeek conn.log",
            _ => table_description(set),
        };
        let _ = writeln!(
            md,
            "| `{file}` | {} | {what} |",
            crate::numfmt::grouped(n as u64)
        );
    }
    if cx.o.pcap_slices {
        let _ = writeln!(md, "| `slices/*.pcap` | | one capture per exported event |");
    }
    let _ = writeln!(
        md,
        "| `croissant.json` | | MLCommons Croissant 1.0 metadata |\n| `manifest.json` | | \
         inputs and outputs with SHA-256, settings, the edit journal's hash |\n"
    );
}

fn write_devices_section(md: &mut String, s: &Session, stats: &[crate::traffic::DeviceStats]) {
    let mut events = vec![0usize; s.registry.devices.len()];
    for e in s
        .labels
        .events
        .iter()
        .filter(|e| e.status == Status::Active)
    {
        if let Some(n) = events.get_mut(e.device as usize) {
            *n += 1;
        }
    }
    let _ = writeln!(
        md,
        "## Devices\n\nDevices with traffic or active events ({} in the registry).\n\n\
         | device | MAC | hub | packets | active events |\n|---|---|---|---|---|",
        s.registry.devices.len()
    );
    for (i, d) in s.registry.devices.iter().enumerate() {
        let packets = stats.get(i).map_or(0, |x| x.packets);
        if packets == 0 && events[i] == 0 {
            continue;
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            d.name,
            d.mac_string(),
            d.hub.as_deref().unwrap_or(""),
            crate::numfmt::grouped(packets),
            events[i]
        );
    }
    md.push('\n');
}

/// A source's clock steps and drift for the card: "none", or each step and the drift's rate.
fn clock_changes(s: &Session, source: usize) -> String {
    let mut parts: Vec<String> = s
        .labels
        .steps
        .get(source)
        .into_iter()
        .flatten()
        .map(|(t, d)| {
            format!(
                "step {:+.0} s at {} UTC",
                *d as f64 / 1e9,
                crate::timefmt::utc_short(*t)
            )
        })
        .collect();
    if let Some(a) = s.labels.drifts.get(source).filter(|a| !a.is_empty()) {
        parts.push(format!(
            "drift {}",
            crate::curation::clock::describe_drift(a)
        ));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

fn write_sources_section(md: &mut String, s: &Session) {
    let (active, dup, rej) = s.status_counts();
    let retimed = s
        .labels
        .events
        .iter()
        .filter(|e| e.retime_ns.is_some())
        .count();
    let _ = writeln!(
        md,
        "## Label sources and curation\n\n| kind | file | zone | clock offset | clock steps and \
         drift | rows | events |\n|---|---|---|---|---|---|---|"
    );
    for (i, src) in s.sources.iter().enumerate() {
        let name = src
            .path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().to_string());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:+.1} s | {} | {} | {} |",
            src.spec.kind.as_str(),
            name,
            s.labels
                .zones
                .get(i)
                .map_or(src.spec.tz.as_str(), String::as_str),
            s.labels.offsets.get(i).copied().unwrap_or(0) as f64 / 1e9,
            clock_changes(s, i),
            src.load.rows,
            src.load.events
        );
    }
    let journal = match s.history.journal.as_ref().map(|j| j.digest()) {
        Some((n, h)) if n > 0 => format!("{} edits, journal SHA-256 `{h}`", s.history.log.len()),
        _ => "no edits".into(),
    };
    let _ = writeln!(
        md,
        "\nCuration: {active} active, {dup} duplicates, {rej} rejected, {retimed} retimed; \
         {journal}. Every label keeps its source file and line (`events.*`).\n"
    );
}

fn write_classes_section(md: &mut String, cx: &Tables<'_>) {
    let s = cx.s;
    let mut counts: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for e in s
        .labels
        .events
        .iter()
        .filter(|e| e.status == Status::Active)
    {
        let k = (s.event_device_name(e).to_string(), e.class.clone());
        counts.entry(k).or_default().0 += 1;
    }
    for r in cx.feats {
        let k = (s.device_name(r.device).to_string(), r.class.clone());
        counts.entry(k).or_default().1 += 1;
    }
    let _ = writeln!(
        md,
        "## Classes by device\n\n| device | class | active events | with features |\n|---|---|---|---|"
    );
    for ((d, c), (n, f)) in &counts {
        let _ = writeln!(md, "| {d} | {c} | {n} | {f} |");
    }
    md.push('\n');
}

fn write_loading_section(md: &mut String, ext: &str, by_day: bool) {
    let (flows, conn) = match by_day {
        true => (format!("flows/part-*.{ext}"), "conn/conn.YYYY-MM-DD.log"),
        false => (format!("flows.{ext}"), "flows.conn.log"),
    };
    let read = match ext {
        "parquet" => ("pd.read_parquet", "pl.read_parquet", "spark.read.parquet"),
        "json" => (
            "lambda p: pd.read_json(p, lines=True)",
            "pl.read_ndjson",
            "spark.read.json",
        ),
        _ => (
            "pd.read_csv",
            "pl.read_csv",
            "spark.read.option('header', True).csv",
        ),
    };
    let _ = writeln!(
        md,
        "## Loading\n\nTimes are `_ns` integers (ns since the Unix epoch, UTC){}.\n\n\
         ```python\nimport pandas as pd\nevents = {}(\"events.{ext}\")\n\
         features = {}(\"features.{ext}\")\n\n\
         import polars as pl\nflows = {}(\"{flows}\")\n\n\
         from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n\
         events = {}(\"events.{ext}\")\n\n\
         from zat.log_to_dataframe import LogToDataFrame\n\
         conn = LogToDataFrame().create_dataframe(\"{conn}\")\n\n\
         import mlcroissant as mlc\nds = mlc.Dataset(jsonld=\"croissant.json\")\n\
         features = list(ds.records(record_set=\"features\"))\n```\n",
        if ext == "csv" {
            " and ISO 8601 `_utc` strings"
        } else {
            ", beside UTC timestamp columns in microseconds"
        },
        read.0,
        read.0,
        read.1,
        read.2,
    );
}
