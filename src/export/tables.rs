//! The exported tables (events, features, flows, devices) written with polars.

use super::*;

pub(crate) fn polars_err(p: &Path, e: PolarsError) -> Error {
    Error::invalid(p, e.to_string())
}

/// A UTC timestamp column in microseconds: the unit every engine reads as a timestamp (Spark
/// reads nanosecond Parquet timestamps as plain integers). The exact times stay beside it in
/// the `_ns` integer columns.
pub(crate) fn datetime(name: &str, ns: &[i64]) -> PolarsResult<Column> {
    let us: Vec<i64> = ns.iter().map(|t| t.div_euclid(1000)).collect();
    Series::new(name.into(), us)
        .cast(&DataType::Datetime(
            TimeUnit::Microseconds,
            Some(polars::prelude::TimeZone::UTC),
        ))
        .map(Column::from)
}

/// The columns of a table as the card describes them.
pub(crate) type CardColumns = Vec<(String, &'static str)>;

/// Writes one table in the chosen format and records its columns for the Croissant card,
/// under its path in the export.
pub(crate) fn write_table(
    df: &mut DataFrame,
    path: &Path,
    fmt: Format,
    cx: &Tables<'_>,
) -> Result<()> {
    let cols = write_frame(df, path, fmt, cx.kv)?;
    let name = path.strip_prefix(cx.dir).unwrap_or(path);
    cx.schemas
        .lock()
        .expect("schemas lock")
        .insert(name.to_string_lossy().into_owned(), cols);
    Ok(())
}

/// Writes one table in the chosen format and returns the columns written. Parquet files carry
/// `kv` (labelbench's version, the dataset's inputs hash) in their key-value metadata.
pub(crate) fn write_frame(
    df: &mut DataFrame,
    path: &Path,
    fmt: Format,
    kv: &[(String, String)],
) -> Result<CardColumns> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let schema = |df: &DataFrame| -> CardColumns {
        df.columns()
            .iter()
            .map(|c| (c.name().to_string(), super::card::croissant_type(c.dtype())))
            .collect()
    };
    match fmt {
        Format::Parquet => {
            let meta = polars::io::parquet::write::KeyValueMetadata::from_static(kv.to_vec());
            ParquetWriter::new(f)
                .with_key_value_metadata(Some(meta))
                .finish(df)
                .map_err(|e| polars_err(path, e))?;
            Ok(schema(df))
        }
        Format::Csv => {
            // CSV has no timestamp type: drop the typed time columns (ns and ISO columns stay).
            let names: Vec<PlSmallStr> = df
                .columns()
                .iter()
                .filter(|c| matches!(c.dtype(), DataType::Datetime(..)))
                .map(|c| c.name().clone())
                .collect();
            let mut d = df.drop_many(names);
            CsvWriter::new(f)
                .finish(&mut d)
                .map_err(|e| polars_err(path, e))?;
            Ok(schema(&d))
        }
        Format::Json => {
            JsonWriter::new(f)
                .with_json_format(JsonFormat::JsonLines)
                .finish(df)
                .map_err(|e| polars_err(path, e))?;
            Ok(schema(df))
        }
    }
}

/// The events table: every exported label with its provenance and times.
pub(crate) fn write_events(cx: &Tables<'_>, rows: &mut BTreeMap<String, usize>) -> Result<()> {
    let p = cx.dir.join(format!("events.{}", cx.ext));
    let mut df = events_frame(cx.s, cx.evs, &cx.w, &p)?;
    rows.insert(format!("events.{}", cx.ext), df.height());
    write_table(&mut df, &p, cx.o.format, cx)
}

/// The events table's columns for `evs`; `p` names the file in errors.
pub(crate) fn events_frame(
    s: &Session,
    evs: &[&crate::labels::Event],
    w: &crate::project::WindowSettings,
    p: &Path,
) -> Result<DataFrame> {
    let adj: Vec<i64> = evs.iter().map(|e| s.adjusted_ns(e)).collect();
    let windows: Vec<(i64, i64)> = {
        let ew = crate::learn::features::EventWindows::new(s, w);
        evs.iter().map(|e| ew.of(e)).collect()
    };
    let orig: Vec<i64> = evs.iter().map(|e| e.original_ns).collect();
    DataFrame::new_infer_height(vec![
        Column::new(
            "event_id".into(),
            evs.iter().map(|e| e.id).collect::<Vec<u64>>(),
        ),
        Column::new(
            "device".into(),
            evs.iter()
                .map(|e| s.event_device_name(e).to_string())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "mac".into(),
            evs.iter()
                .map(|e| {
                    if e.device == NO_DEVICE {
                        String::new()
                    } else {
                        s.registry.devices[e.device as usize].mac_string()
                    }
                })
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "class".into(),
            evs.iter().map(|e| e.class.clone()).collect::<Vec<String>>(),
        ),
        Column::new(
            "source_kind".into(),
            evs.iter()
                .map(|e| s.source_kind_str(e).to_string())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "source_path".into(),
            evs.iter()
                .map(|e| {
                    if e.source == INSERTED_SOURCE {
                        String::new()
                    } else {
                        s.sources[e.source as usize].spec.path.clone()
                    }
                })
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "source_line".into(),
            evs.iter().map(|e| e.line).collect::<Vec<u32>>(),
        ),
        Column::new(
            "raw_text".into(),
            evs.iter().map(|e| e.raw.clone()).collect::<Vec<String>>(),
        ),
        Column::new(
            "time_text".into(),
            evs.iter()
                .map(|e| e.time_text.clone())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "precision".into(),
            evs.iter()
                .map(|e| e.precision.as_str())
                .collect::<Vec<&str>>(),
        ),
        Column::new("original_ns".into(), orig.clone()),
        Column::new("adjusted_ns".into(), adj.clone()),
        Column::new(
            "offset_ns".into(),
            adj.iter()
                .zip(&orig)
                .map(|(a, b)| a - b)
                .collect::<Vec<i64>>(),
        ),
        Column::new(
            "original_utc".into(),
            orig.iter()
                .map(|&t| crate::timefmt::utc(t))
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "adjusted_utc".into(),
            adj.iter()
                .map(|&t| crate::timefmt::utc(t))
                .collect::<Vec<String>>(),
        ),
        datetime("original_time", &orig).map_err(|e| polars_err(p, e))?,
        datetime("adjusted_time", &adj).map_err(|e| polars_err(p, e))?,
        Column::new(
            "status".into(),
            evs.iter().map(|e| e.status.as_str()).collect::<Vec<&str>>(),
        ),
        Column::new(
            "duplicate_of".into(),
            evs.iter()
                .map(|e| e.duplicate_of)
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "window_start_ns".into(),
            windows.iter().map(|x| x.0).collect::<Vec<i64>>(),
        ),
        Column::new(
            "window_end_ns".into(),
            windows.iter().map(|x| x.1).collect::<Vec<i64>>(),
        ),
        Column::new(
            "edit_ids".into(),
            evs.iter()
                .map(|e| {
                    e.edits
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .collect::<Vec<String>>(),
        ),
    ])
    .map_err(|e| polars_err(p, e))
}

/// The features table: one row per active event (and idle windows when enabled).
pub(crate) fn write_features(cx: &Tables<'_>, rows: &mut BTreeMap<String, usize>) -> Result<()> {
    let p = cx.dir.join(format!("features.{}", cx.ext));
    let mut df = features_frame(cx.s, cx.feats, &p)?;
    rows.insert(format!("features.{}", cx.ext), df.height());
    write_table(&mut df, &p, cx.o.format, cx)
}

/// The features table's columns for `feats`; `p` names the file in errors.
pub(crate) fn features_frame(s: &Session, feats: &[FeatureRow], p: &Path) -> Result<DataFrame> {
    let mut cols = vec![
        Column::new(
            "event_id".into(),
            feats.iter().map(|r| r.event_id).collect::<Vec<u64>>(),
        ),
        Column::new(
            "device".into(),
            feats
                .iter()
                .map(|r| s.device_name(r.device).to_string())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "class".into(),
            feats
                .iter()
                .map(|r| r.class.clone())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "window_start_ns".into(),
            feats
                .iter()
                .map(|r| r.window_start_ns)
                .collect::<Vec<i64>>(),
        ),
        Column::new(
            "window_end_ns".into(),
            feats.iter().map(|r| r.window_end_ns).collect::<Vec<i64>>(),
        ),
    ];
    for (j, n) in features::names().iter().enumerate() {
        cols.push(Column::new(
            n.as_str().into(),
            feats.iter().map(|r| r.values[j]).collect::<Vec<f64>>(),
        ));
    }
    DataFrame::new_infer_height(cols).map_err(|e| polars_err(p, e))
}

/// The flows table: every flow with its endpoints, counts, end reason and Community ID.
pub(crate) fn write_flows(cx: &Tables<'_>, rows: &mut BTreeMap<String, usize>) -> Result<()> {
    let Tables { s, dir, o, ext, .. } = *cx;
    let p = dir.join(format!("flows.{ext}"));
    // A flow's id is its index in the flow table of the traffic read, as in the conn.log: a
    // device group's or a slice's ids have gaps, and its flows keep their ids.
    let (ids, fl): (Vec<u64>, Vec<&Flow>) = s
        .traffic
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| o.exports_device(f.device) && o.exports_time(f.first_ns))
        .map(|(i, f)| (i as u64, f))
        .unzip();
    let mut df = flows_frame(&fl, &ids, &|d| s.device_name(d).to_string(), &p)?;
    rows.insert(format!("flows.{ext}"), df.height());
    write_table(&mut df, &p, o.format, cx)?;
    Ok(())
}

/// The flow table's columns (export's `flows` and extract's per-file flows); `p` names the
/// file in errors.
pub(crate) fn flows_frame(
    fl: &[&Flow],
    ids: &[u64],
    device_name: &dyn Fn(u16) -> String,
    p: &Path,
) -> Result<DataFrame> {
    let ip = |x: Option<std::net::IpAddr>| x.map(|a| a.to_string()).unwrap_or_default();
    let first: Vec<i64> = fl.iter().map(|f| f.first_ns).collect();
    let last: Vec<i64> = fl.iter().map(|f| f.last_ns).collect();
    let cids: Vec<Option<String>> = fl.par_iter().map(|f| flow_community_id(f)).collect();
    DataFrame::new_infer_height(vec![
        Column::new("flow_id".into(), ids.to_vec()),
        Column::new(
            "device".into(),
            fl.iter()
                .map(|f| device_name(f.device))
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "protocol".into(),
            fl.iter()
                .map(|f| f.protocol_name())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "ip_a".into(),
            fl.iter().map(|f| ip(f.ip_a())).collect::<Vec<String>>(),
        ),
        Column::new(
            "port_a".into(),
            fl.iter().map(|f| f.key.port_a as u32).collect::<Vec<u32>>(),
        ),
        Column::new(
            "mac_a".into(),
            fl.iter()
                .map(|f| crate::traffic::devices::fmt_mac(&f.key.mac_a))
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "ip_b".into(),
            fl.iter().map(|f| ip(f.ip_b())).collect::<Vec<String>>(),
        ),
        Column::new(
            "port_b".into(),
            fl.iter().map(|f| f.key.port_b as u32).collect::<Vec<u32>>(),
        ),
        Column::new(
            "mac_b".into(),
            fl.iter()
                .map(|f| crate::traffic::devices::fmt_mac(&f.key.mac_b))
                .collect::<Vec<String>>(),
        ),
        Column::new("first_ns".into(), first.clone()),
        Column::new("last_ns".into(), last.clone()),
        Column::new(
            "first_utc".into(),
            first
                .iter()
                .map(|&t| crate::timefmt::utc(t))
                .collect::<Vec<String>>(),
        ),
        datetime("first_time", &first).map_err(|e| polars_err(p, e))?,
        datetime("last_time", &last).map_err(|e| polars_err(p, e))?,
        Column::new(
            "packets_ab".into(),
            fl.iter().map(|f| f.pkts_ab).collect::<Vec<u64>>(),
        ),
        Column::new(
            "packets_ba".into(),
            fl.iter().map(|f| f.pkts_ba).collect::<Vec<u64>>(),
        ),
        Column::new(
            "bytes_ab".into(),
            fl.iter().map(|f| f.bytes_ab).collect::<Vec<u64>>(),
        ),
        Column::new(
            "bytes_ba".into(),
            fl.iter().map(|f| f.bytes_ba).collect::<Vec<u64>>(),
        ),
        Column::new(
            "end".into(),
            fl.iter()
                .map(|f| f.end.as_str().to_string())
                .collect::<Vec<String>>(),
        ),
        Column::new("community_id".into(), cids),
    ])
    .map_err(|e| polars_err(p, e))
}

/// devices.csv: the registry with what the captures saw of each device.
pub(crate) fn write_devices(cx: &Tables<'_>, rows: &mut BTreeMap<String, usize>) -> Result<()> {
    let Tables { s, dir, o, .. } = *cx;
    let p = dir.join("devices.csv");
    let st = &cx.traffic.stats;
    let mut evc = vec![0u64; s.registry.len()];
    for e in &s.labels.events {
        if e.device != NO_DEVICE {
            evc[e.device as usize] += 1;
        }
    }
    let ds = &s.registry.devices;
    let keep: Vec<usize> = (0..ds.len())
        .filter(|&i| ds[i].registered || st[i].packets > 0)
        .filter(|&i| o.exports_device(i as u16))
        .collect();
    let mut df = DataFrame::new_infer_height(vec![
        Column::new(
            "name".into(),
            keep.iter()
                .map(|&i| ds[i].name.clone())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "mac".into(),
            keep.iter()
                .map(|&i| ds[i].mac_string())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "ip".into(),
            keep.iter()
                .map(|&i| {
                    ds[i]
                        .ips
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "description".into(),
            keep.iter()
                .map(|&i| ds[i].description.clone())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "hub".into(),
            keep.iter()
                .map(|&i| ds[i].hub.clone().unwrap_or_default())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "kind".into(),
            keep.iter().map(|&i| ds[i].kind()).collect::<Vec<&str>>(),
        ),
        Column::new(
            "registered".into(),
            keep.iter()
                .map(|&i| ds[i].registered)
                .collect::<Vec<bool>>(),
        ),
        Column::new(
            "packets".into(),
            keep.iter().map(|&i| st[i].packets).collect::<Vec<u64>>(),
        ),
        Column::new(
            "bytes".into(),
            keep.iter().map(|&i| st[i].bytes).collect::<Vec<u64>>(),
        ),
        Column::new(
            "flows".into(),
            keep.iter().map(|&i| st[i].flows).collect::<Vec<u64>>(),
        ),
        Column::new(
            "events".into(),
            keep.iter().map(|&i| evc[i]).collect::<Vec<u64>>(),
        ),
    ])
    .map_err(|e| polars_err(&p, e))?;
    rows.insert("devices.csv".into(), df.height());
    write_table(&mut df, &p, Format::Csv, cx)?;
    Ok(())
}
