//! `labelbench curate`: suggestions, and accepting them as journaled edits.

use std::path::PathBuf;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file (*.labelbench.json); accepted edits go to its journal.
    pub project: PathBuf,
    /// Accept every suggestion that has an edit (all kinds but mislabels, which need a model),
    /// recomputing after each round until nothing new is found; at confidence 0.5 or more
    /// unless --min-confidence says otherwise, and no-traffic rejections only at 0.9 or more.
    #[arg(long, conflicts_with = "accept")]
    pub accept_all: bool,
    /// Accept these kinds: zones, duplicates, skew, offsets, no-traffic, wrong-device,
    /// mislabels (mislabels: trains the project's model first and relabels confident
    /// disagreements), recomputing after each round as --accept-all does.
    #[arg(long, value_delimiter = ',')]
    pub accept: Vec<String>,
    /// Accept only suggestions at or above this confidence (0-1); defaults to 0.5 with
    /// --accept-all and 0 with --accept.
    #[arg(long)]
    pub min_confidence: Option<f64>,
    /// Order of the listing: kind (then time), confidence (most confident first) or time.
    #[arg(long, default_value = "kind", value_parser = ["kind", "confidence", "time"])]
    pub order: String,
    /// Suggestions listed in the text output: per kind when ordered by kind, else in all
    /// (0: every one). Defaults to 12 per kind and 30 otherwise.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print every suggestion and the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only the events from this UTC instant on (`2021-03-08` or an RFC 3339 time) and what
    /// happens then; a project reading a traffic dataset reads only that slice's packets.
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub from: Option<i64>,
    /// Only the events before this UTC instant (see --from).
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub to: Option<i64>,
    /// For a project reading a traffic dataset: curate one UTC day at a time, as
    /// `--from DAY --to DAY+1` does, each day reading only its packets (memory follows the
    /// largest day); accepted edits of each day go to the journal before the next day.
    #[arg(long)]
    pub by_day: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    cmd_curate(&a)
}

fn cmd_curate(a: &Args) -> anyhow::Result<()> {
    use labelbench::curation::{self, SuggestionKind, SuggestionOrder};
    let Args {
        project,
        accept_all,
        accept,
        min_confidence: min_conf,
        order,
        limit,
        json,
        from,
        to,
        by_day,
    } = a;
    let (project, accept_all, min_conf, limit, json) =
        (project.as_path(), *accept_all, *min_conf, *limit, *json);
    let range = super::time_range(*from, *to)?;
    let order = match order.as_str() {
        "kind" => SuggestionOrder::Kind,
        "confidence" => SuggestionOrder::Confidence,
        "time" => SuggestionOrder::Time,
        o => {
            return Err(bad(format!(
                "--order: unknown order {o:?} (kind, confidence or time)"
            )))
        }
    };
    if min_conf.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
        return Err(bad("--min-confidence must be between 0 and 1"));
    }
    let kinds: Vec<SuggestionKind> = if accept_all {
        curation::Acceptance::all().kinds
    } else {
        accept
            .iter()
            .map(|k| {
                SuggestionKind::parse(k).ok_or_else(|| {
                    bad(format!(
                        "--accept: unknown kind {k:?} (one of {})",
                        SuggestionKind::ALL.map(|k| k.as_str()).join(", ")
                    ))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let acc = Accepting {
        kinds,
        accept_all,
        min_conf,
    };
    let t = std::time::Instant::now();
    let (s, sugg, applied) = if *by_day {
        curate_by_day(project, range, &acc)?
    } else {
        let mut s = open_curated(project, range)?;
        let (sugg, applied) = curate_session(&mut s, range, &acc)?;
        (s, sugg, applied)
    };
    let secs = t.elapsed().as_secs_f64();
    let mut sugg: Vec<&curation::Suggestion> = sugg.iter().collect();
    order.sort(&mut sugg);
    let (a, d, r) = s.status_counts();
    if json {
        let v = serde_json::json!({
            "suggestions": sugg,
            "applied_edits": applied,
            "seconds": secs,
            "events": {"active": a, "duplicate": d, "rejected": r},
            "offsets_ns": s.labels.offsets,
            "clock_steps_ns": s.labels.steps,
            "clock_drift_ns": s.labels.drifts,
            "journal": s.history.journal.as_ref().map(|j| j.path.display().to_string()),
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print_list(&sugg, order, limit)?;
    outln!(
        "\n{} suggestions in {:.2} s; {} edits applied and journaled; events: active {}, duplicate {}, rejected {}",
        sugg.len(),
        secs,
        applied,
        a,
        d,
        r
    );
    Ok(())
}

/// What `curate` accepts: these kinds, at this confidence.
struct Accepting {
    kinds: Vec<labelbench::curation::SuggestionKind>,
    accept_all: bool,
    min_conf: Option<f64>,
}

/// The project opened for curating `range` (with curation's margin) or the whole span.
fn open_curated(project: &Path, range: Option<(i64, i64)>) -> anyhow::Result<Session> {
    let margin = labelbench::curation::SLICE_MARGIN_NS;
    let f = TrafficFilter {
        devices: None,
        range: range.map(|(a, b)| (a.saturating_sub(margin), b.saturating_add(margin))),
    };
    open_session_filtered(project, true, true, &f)
}

/// Suggests for the session's `range` and accepts what `acc` asks, journaling each edit;
/// returns the suggestions and the edits applied.
fn curate_session(
    s: &mut Session,
    range: Option<(i64, i64)>,
    acc: &Accepting,
) -> anyhow::Result<(Vec<labelbench::curation::Suggestion>, usize)> {
    use labelbench::curation::{self, SuggestionKind};
    let Accepting {
        kinds,
        accept_all,
        min_conf,
    } = acc;
    if !kinds.is_empty() {
        // A second writer is told now, not after the suggestions are computed.
        s.lock_journal()?;
    }
    let cfg = curation::CurateSettings {
        range,
        ..Default::default()
    };
    let (mut sugg, mut applied) = if kinds.is_empty() {
        (curation::suggest(s, &cfg), 0)
    } else {
        let acc = if *accept_all {
            let mut acc = curation::Acceptance::all();
            acc.min_confidence = min_conf.unwrap_or(acc.min_confidence);
            acc
        } else {
            curation::Acceptance::kinds(kinds, min_conf.unwrap_or(0.0))
        };
        curation::run_all(s, &acc, &cfg).map_err(bad)?
    };
    if kinds.contains(&SuggestionKind::Mislabel) {
        // As in the window: a model trained with the project's settings on the curated labels.
        let report = labelbench::learn::train(s, &s.project.training).map_err(bad)?;
        let found = curation::mislabel_suggestions(s, &report);
        applied += curation::accept(
            s,
            &found,
            &[SuggestionKind::Mislabel],
            min_conf.unwrap_or(0.0),
        )
        .map_err(bad)?;
        sugg.extend(found);
    }
    Ok((sugg, applied))
}

/// `--by-day`: [`curate_session`] over each UTC day with packets or events (within `range`),
/// each day opened on its own after the previous day's edits are journaled. A finding about a
/// source as a whole, suggested again on later days, is listed once. Returns the last day's
/// session (its labels carry every day's edits).
fn curate_by_day(
    project: &Path,
    range: Option<(i64, i64)>,
    acc: &Accepting,
) -> anyhow::Result<(Session, Vec<labelbench::curation::Suggestion>, usize)> {
    require_project(project)?;
    let opts = OpenOptions {
        journal: true,
        cache: true,
    };
    let slices = Session::open_without_packets(project, opts, &Default::default())
        .and_then(|s| s.day_slices(range))
        .map_err(bad)?;
    let (mut all, mut applied) = (Vec::new(), 0);
    let mut seen = std::collections::HashSet::new();
    let mut last = None;
    for slice in slices {
        // The previous day's session lets go of the journal's writer lock first.
        drop(last.take());
        let mut s = open_curated(project, Some(slice))?;
        let (sugg, n) = curate_session(&mut s, Some(slice), acc)?;
        applied += n;
        all.extend(sugg.into_iter().filter(|x| seen.insert(x.key.clone())));
        last = Some(s);
    }
    let s = match last {
        Some(s) => s,
        None => open_curated(project, range)?,
    };
    Ok((s, all, applied))
}

/// The suggestions as text: per kind (at most 12 each unless `--limit`), or one list in the
/// asked order (at most 30).
fn print_list(
    sugg: &[&labelbench::curation::Suggestion],
    order: labelbench::curation::SuggestionOrder,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    use labelbench::curation::{self, SuggestionKind, SuggestionOrder};
    let line = |x: &curation::Suggestion| {
        format!(
            "{:<22} {:>4.2}  {}{}  [{}]",
            x.key,
            x.confidence,
            x.device
                .as_deref()
                .map(|d| format!("{d}: "))
                .unwrap_or_default(),
            x.reason,
            x.evidence
        )
    };
    let shown = |default: usize| match limit {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => default,
    };
    if order == SuggestionOrder::Kind {
        let per_kind = shown(12);
        for k in SuggestionKind::ALL {
            let of: Vec<_> = sugg.iter().filter(|x| x.kind == k).collect();
            if of.is_empty() {
                continue;
            }
            outln!("{} ({})", k.as_str(), of.len());
            for x in of.iter().take(per_kind) {
                outln!("  {}", line(x));
            }
            if of.len() > per_kind {
                outln!(
                    "  … {} more (--limit 0 lists all; --json prints all)",
                    of.len() - per_kind
                );
            }
        }
    } else {
        // One list across kinds, in the asked order.
        let all = shown(30);
        for x in sugg.iter().take(all) {
            outln!("{:<18} {}", x.kind.as_str(), line(x));
        }
        if sugg.len() > all {
            outln!(
                "… {} more (--limit 0 lists all; --json prints all)",
                sugg.len() - all
            );
        }
    }
    Ok(())
}
