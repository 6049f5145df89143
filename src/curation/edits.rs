//! Edits are the only way labels change. Each edit is a value whose `apply` returns its
//! inverse; the history keeps undo/redo stacks and every step is appended to a journal that is
//! fsync'd before the step is acknowledged.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::{Event, Status};

/// Every kind of label change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Edit {
    Insert {
        event: Box<Event>,
    },
    Remove {
        event: Box<Event>,
    },
    Relabel {
        id: u64,
        from: String,
        to: String,
    },
    /// Sets (or clears) one event's adjusted time.
    Retime {
        id: u64,
        from: Option<i64>,
        to: Option<i64>,
    },
    /// Sets a whole source's clock offset.
    SetSourceOffset {
        source: u16,
        from: i64,
        to: i64,
    },
    /// Sets the steps of a source's clock: from each instant (as logged) on, this much more
    /// offset, so a logger clock that stepped during the capture is followed.
    SetSourceSteps {
        source: u16,
        from: Vec<(i64, i64)>,
        to: Vec<(i64, i64)>,
    },
    /// Sets the drift of a source's clock: anchors (logged instant, offset) with the offset
    /// linear between them and beyond them, so a logger clock that gains or loses time
    /// steadily is followed.
    SetSourceDrift {
        source: u16,
        from: Vec<(i64, i64)>,
        to: Vec<(i64, i64)>,
    },
    /// Sets the time zone a source's naive local times are read in; its events' times are
    /// re-resolved (with DST) from the wall-clock times as written.
    SetSourceZone {
        source: u16,
        from: String,
        to: String,
    },
    /// Mark/unmark duplicate, reject/restore.
    SetStatus {
        id: u64,
        from: Status,
        from_dup: Option<u64>,
        to: Status,
        to_dup: Option<u64>,
    },
    ReassignDevice {
        id: u64,
        from: u16,
        to: u16,
    },
    /// Several edits as one undo step (a bulk accept).
    Batch {
        label: String,
        edits: Vec<Edit>,
    },
}

impl Edit {
    pub fn mark_duplicate(e: &Event, of: u64) -> Edit {
        Edit::SetStatus {
            id: e.id,
            from: e.status,
            from_dup: e.duplicate_of,
            to: Status::Duplicate,
            to_dup: Some(of),
        }
    }
    pub fn reject(e: &Event) -> Edit {
        Edit::SetStatus {
            id: e.id,
            from: e.status,
            from_dup: e.duplicate_of,
            to: Status::Rejected,
            to_dup: None,
        }
    }
    pub fn restore(e: &Event) -> Edit {
        Edit::SetStatus {
            id: e.id,
            from: e.status,
            from_dup: e.duplicate_of,
            to: Status::Active,
            to_dup: None,
        }
    }
    /// A short human description for history lists.
    pub fn describe(&self) -> String {
        match self {
            Edit::Insert { event } => format!("insert event {} ({})", event.id, event.class),
            Edit::Remove { event } => format!("remove event {}", event.id),
            Edit::Relabel { id, from, to } => format!("relabel {id}: {from} -> {to}"),
            Edit::Retime { id, to, .. } => match to {
                Some(t) => format!("retime {id} to {}", crate::timefmt::utc(*t)),
                None => format!("reset time of {id}"),
            },
            Edit::SetSourceOffset { source, to, .. } => {
                format!("offset of source {source} = {:+.1} s", *to as f64 / 1e9)
            }
            Edit::SetSourceZone { source, to, .. } => format!("zone of source {source} = {to}"),
            Edit::SetSourceDrift { source, to, .. } => format!(
                "clock drift of source {source}: {}",
                crate::curation::clock::describe_drift(to)
            ),
            Edit::SetSourceSteps { source, to, .. } => format!(
                "clock steps of source {source}: {}",
                to.iter()
                    .map(|(t, d)| format!(
                        "{:+.0} s from {}",
                        *d as f64 / 1e9,
                        crate::timefmt::utc(*t)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Edit::SetStatus { id, to, to_dup, .. } => match to_dup {
                Some(d) => format!("{id} duplicate of {d}"),
                None => format!("{id} -> {}", to.as_str()),
            },
            Edit::ReassignDevice { id, to, .. } => format!("move {id} to device #{to}"),
            Edit::Batch { label, edits } => format!("{label} ({} edits)", edits.len()),
        }
    }
    /// Event ids this edit touches.
    pub fn event_ids(&self, out: &mut Vec<u64>) {
        match self {
            Edit::Insert { event } | Edit::Remove { event } => out.push(event.id),
            Edit::Relabel { id, .. }
            | Edit::Retime { id, .. }
            | Edit::SetStatus { id, .. }
            | Edit::ReassignDevice { id, .. } => out.push(*id),
            Edit::SetSourceOffset { .. }
            | Edit::SetSourceZone { .. }
            | Edit::SetSourceSteps { .. }
            | Edit::SetSourceDrift { .. } => {}
            Edit::Batch { edits, .. } => edits.iter().for_each(|e| e.event_ids(out)),
        }
    }
}

/// The editable label state: events sorted by id, per-source clock offsets and time zones.
#[derive(Clone, Debug, Default)]
pub struct LabelSet {
    pub events: Vec<Event>,
    pub offsets: Vec<i64>,
    /// IANA zone each source's naive local times are read in.
    pub zones: Vec<String>,
    /// Per source: clock steps (from this logged instant on, this much more offset), sorted.
    pub steps: Vec<Vec<(i64, i64)>>,
    /// Per source: drift anchors (logged instant, offset), sorted; see [`crate::curation::clock`].
    pub drifts: Vec<Vec<(i64, i64)>>,
}

impl LabelSet {
    pub fn new(mut events: Vec<Event>, offsets: Vec<i64>) -> Self {
        events.sort_by_key(|e| e.id);
        let zones = vec!["UTC".to_string(); offsets.len()];
        let steps = vec![Vec::new(); offsets.len()];
        let drifts = vec![Vec::new(); offsets.len()];
        LabelSet {
            events,
            offsets,
            zones,
            steps,
            drifts,
        }
    }
    /// The same, with the zones the sources were read in.
    pub fn with_zones(mut self, zones: Vec<String>) -> Self {
        self.zones = zones;
        self
    }
    /// Re-reads the wall-clock times of `source`'s events in `zone`; all or nothing.
    fn rezone(&mut self, source: u16, zone: &str) -> Result<()> {
        let tz: chrono_tz::Tz = zone
            .parse()
            .map_err(|_| Error::Other(format!("unknown time zone {zone:?}")))?;
        let mut new = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            if e.source != source {
                continue;
            }
            if let Some(w) = e.local_ns {
                let t = crate::labels::wall_time(w);
                let (ns, _) = crate::labels::resolve_local(&tz, &t).ok_or_else(|| {
                    Error::Other(format!("{}: out of range in {zone}", e.time_text))
                })?;
                new.push((i, ns));
            }
        }
        for (i, ns) in new {
            self.events[i].original_ns = ns;
        }
        Ok(())
    }
    pub fn position(&self, id: u64) -> Option<usize> {
        self.events.binary_search_by_key(&id, |e| e.id).ok()
    }
    pub fn get(&self, id: u64) -> Option<&Event> {
        self.position(id).map(|i| &self.events[i])
    }
    fn get_mut(&mut self, id: u64) -> Result<&mut Event> {
        match self.position(id) {
            Some(i) => Ok(&mut self.events[i]),
            None => Err(Error::Other(format!("no event with id {id}"))),
        }
    }
    /// The event's time after its source's clock (offset, steps, drift), or its per-event
    /// retime.
    pub fn adjusted_ns(&self, e: &Event) -> i64 {
        e.retime_ns
            .unwrap_or_else(|| e.original_ns + self.clock_offset(e.source, e.original_ns))
    }

    /// A source's clock offset at a logged instant: its offset, plus the steps taken by then,
    /// plus its drift there.
    pub fn clock_offset(&self, source: u16, logged_ns: i64) -> i64 {
        use crate::curation::clock::{drift_at, steps_at};
        let s = source as usize;
        let base = self.offsets.get(s).copied().unwrap_or(0);
        let steps = self.steps.get(s).map_or(0, |v| steps_at(v, logged_ns));
        let drift = self.drifts.get(s).map_or(0, |v| drift_at(v, logged_ns));
        base.saturating_add(steps).saturating_add(drift)
    }

    /// Applies an edit and returns its inverse. On error nothing is changed.
    pub fn apply(&mut self, edit: &Edit, edit_id: u64) -> Result<Edit> {
        match edit {
            Edit::Insert { event } => {
                if self.position(event.id).is_some() {
                    return Err(Error::Other(format!("event {} already exists", event.id)));
                }
                let i = self.events.partition_point(|e| e.id < event.id);
                let mut ev = (**event).clone();
                ev.edits.push(edit_id);
                self.events.insert(i, ev);
                Ok(Edit::Remove {
                    event: event.clone(),
                })
            }
            Edit::Remove { event } => {
                let i = self
                    .position(event.id)
                    .ok_or_else(|| Error::Other(format!("no event with id {}", event.id)))?;
                let removed = self.events.remove(i);
                Ok(Edit::Insert {
                    event: Box::new(removed),
                })
            }
            Edit::Relabel { id, from, to } => {
                let e = self.get_mut(*id)?;
                e.class = to.clone();
                e.edits.push(edit_id);
                Ok(Edit::Relabel {
                    id: *id,
                    from: to.clone(),
                    to: from.clone(),
                })
            }
            Edit::Retime { id, to, .. } => {
                let e = self.get_mut(*id)?;
                let prev = e.retime_ns;
                e.retime_ns = *to;
                e.edits.push(edit_id);
                Ok(Edit::Retime {
                    id: *id,
                    from: *to,
                    to: prev,
                })
            }
            Edit::SetSourceOffset { source, to, .. } => {
                let s = *source as usize;
                if s >= self.offsets.len() {
                    return Err(Error::Other(format!("no source {source}")));
                }
                let prev = self.offsets[s];
                self.offsets[s] = *to;
                Ok(Edit::SetSourceOffset {
                    source: *source,
                    from: *to,
                    to: prev,
                })
            }
            Edit::SetSourceSteps { source, to, .. } => {
                let s = *source as usize;
                if s >= self.steps.len() {
                    return Err(Error::Other(format!("no source {source}")));
                }
                let mut to = to.clone();
                to.sort_unstable();
                let prev = std::mem::replace(&mut self.steps[s], to.clone());
                Ok(Edit::SetSourceSteps {
                    source: *source,
                    from: to,
                    to: prev,
                })
            }
            Edit::SetSourceDrift { source, to, .. } => {
                let s = *source as usize;
                if s >= self.drifts.len() {
                    return Err(Error::Other(format!("no source {source}")));
                }
                let to = crate::curation::clock::normalized(to);
                let prev = std::mem::replace(&mut self.drifts[s], to.clone());
                Ok(Edit::SetSourceDrift {
                    source: *source,
                    from: to,
                    to: prev,
                })
            }
            Edit::SetSourceZone { source, to, .. } => {
                let s = *source as usize;
                if s >= self.zones.len() {
                    return Err(Error::Other(format!("no source {source}")));
                }
                self.rezone(*source, to)?;
                let prev = std::mem::replace(&mut self.zones[s], to.clone());
                Ok(Edit::SetSourceZone {
                    source: *source,
                    from: to.clone(),
                    to: prev,
                })
            }
            Edit::SetStatus { id, to, to_dup, .. } => {
                if let Some(d) = to_dup {
                    if *d == *id || self.position(*d).is_none() {
                        return Err(Error::Other(format!("{id} cannot be a duplicate of {d}")));
                    }
                }
                let e = self.get_mut(*id)?;
                let (ps, pd) = (e.status, e.duplicate_of);
                e.status = *to;
                e.duplicate_of = *to_dup;
                e.edits.push(edit_id);
                Ok(Edit::SetStatus {
                    id: *id,
                    from: *to,
                    from_dup: *to_dup,
                    to: ps,
                    to_dup: pd,
                })
            }
            Edit::ReassignDevice { id, to, .. } => {
                let e = self.get_mut(*id)?;
                let prev = e.device;
                e.device = *to;
                e.edits.push(edit_id);
                Ok(Edit::ReassignDevice {
                    id: *id,
                    from: *to,
                    to: prev,
                })
            }
            Edit::Batch { label, edits } => {
                let mut inv = Vec::with_capacity(edits.len());
                for (k, e) in edits.iter().enumerate() {
                    match self.apply(e, edit_id) {
                        Ok(i) => inv.push(i),
                        Err(err) => {
                            // Roll back what was applied so the batch is all-or-nothing.
                            for i in inv.iter().rev() {
                                let _ = self.apply(i, edit_id);
                            }
                            return Err(Error::Other(format!("{label}: edit {k}: {err}")));
                        }
                    }
                }
                inv.reverse();
                Ok(Edit::Batch {
                    label: format!("undo {label}"),
                    edits: inv,
                })
            }
        }
    }
}

pub use crate::curation::journal::{Journal, JournalEntry, JournalReplay};

/// Undo/redo stacks over a [`LabelSet`], journaling every step.
#[derive(Debug, Default)]
pub struct History {
    /// (edit id, inverse, original edit).
    undo: Vec<(u64, Edit, Edit)>,
    redo: Vec<(u64, Edit, Edit)>,
    pub next_seq: u64,
    pub journal: Option<Journal>,
    /// Every applied step in order (for the journal view and export).
    pub log: Vec<JournalEntry>,
}

impl History {
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
    pub fn undo_label(&self) -> Option<String> {
        self.undo.last().map(|u| u.2.describe())
    }
    pub fn redo_label(&self) -> Option<String> {
        self.redo.last().map(|u| u.2.describe())
    }

    fn record(&mut self, step: &str, edit: &Edit, journal: bool) -> Result<u64> {
        let seq = self.next_seq;
        let entry = JournalEntry {
            seq,
            step: step.to_string(),
            edit: edit.clone(),
        };
        if journal {
            if let Some(j) = self.journal.as_mut() {
                j.append(&entry)?;
            }
        }
        self.next_seq += 1;
        self.log.push(entry);
        Ok(seq)
    }

    /// Applies an edit as a new undo step; it is journaled before this returns.
    pub fn apply(&mut self, set: &mut LabelSet, edit: Edit) -> Result<u64> {
        let seq = self.next_seq;
        let inv = set.apply(&edit, seq)?;
        if let Err(e) = self.record("apply", &edit, true) {
            let _ = set.apply(&inv, seq);
            return Err(e);
        }
        self.undo.push((seq, inv, edit));
        self.redo.clear();
        Ok(seq)
    }

    pub fn undo(&mut self, set: &mut LabelSet) -> Result<bool> {
        let Some((_, inv, orig)) = self.undo.pop() else {
            return Ok(false);
        };
        let seq = self.next_seq;
        let inv2 = set.apply(&inv, seq)?;
        if let Err(e) = self.record("undo", &inv, true) {
            let _ = set.apply(&inv2, seq);
            self.undo.push((seq, inv, orig));
            return Err(e);
        }
        self.redo.push((seq, inv2, orig));
        Ok(true)
    }

    pub fn redo(&mut self, set: &mut LabelSet) -> Result<bool> {
        let Some((_, _, orig)) = self.redo.pop() else {
            return Ok(false);
        };
        let seq = self.next_seq;
        let inv = set.apply(&orig, seq)?;
        if let Err(e) = self.record("redo", &orig, true) {
            let _ = set.apply(&inv, seq);
            return Err(e);
        }
        self.undo.push((seq, inv, orig));
        Ok(true)
    }

    /// Rebuilds state and stacks from journal entries (no re-journaling). Entries that no
    /// longer apply (inputs changed) are skipped and reported.
    pub fn replay(&mut self, set: &mut LabelSet, entries: Vec<JournalEntry>) -> Vec<String> {
        let mut problems = Vec::new();
        for e in entries {
            self.next_seq = self.next_seq.max(e.seq);
            match e.step.as_str() {
                "undo" => {
                    let seq = e.seq;
                    match set.apply(&e.edit, seq) {
                        Ok(inv) => {
                            let orig = self.undo.pop().map(|u| u.2).unwrap_or_else(|| inv.clone());
                            self.redo.push((seq, inv, orig));
                        }
                        Err(err) => problems.push(format!("journal entry {}: {err}", e.seq)),
                    }
                }
                _ => match set.apply(&e.edit, e.seq) {
                    Ok(inv) => {
                        if e.step == "apply" {
                            self.redo.clear();
                        } else {
                            self.redo.pop();
                        }
                        self.undo.push((e.seq, inv, e.edit.clone()));
                    }
                    Err(err) => problems.push(format!("journal entry {}: {err}", e.seq)),
                },
            }
            self.next_seq = e.seq + 1;
            self.log.push(e);
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Precision;

    fn ev(id: u64, t: i64) -> Event {
        Event {
            id,
            device: 0,
            device_text: "d".into(),
            class: "on".into(),
            source: 0,
            line: id as u32,
            raw: String::new(),
            time_text: String::new(),
            original_ns: t,
            local_ns: Some(t),
            precision: Precision::Minute,
            duration_ns: 0,
            retime_ns: None,
            status: Status::Active,
            duplicate_of: None,
            edits: vec![],
        }
    }

    #[test]
    fn zone_change_rereads_wall_times_with_dst_and_undoes() {
        const H: i64 = 3_600_000_000_000;
        // 2021-03-13 12:00 and 2021-03-15 12:00 as written (the US DST change is in between).
        let (a, b) = (1_615_636_800 * 1_000_000_000, 1_615_809_600 * 1_000_000_000);
        let mut s = LabelSet::new(vec![ev(1, a), ev(2, b)], vec![0]);
        let mut absolute = ev(3, 7);
        absolute.local_ns = None;
        s.apply(
            &Edit::Insert {
                event: Box::new(absolute),
            },
            0,
        )
        .unwrap();
        let to = Edit::SetSourceZone {
            source: 0,
            from: "UTC".into(),
            to: "America/New_York".into(),
        };
        let inv = s.apply(&to, 1).unwrap();
        assert_eq!(s.zones[0], "America/New_York");
        assert_eq!(
            s.get(1).unwrap().original_ns,
            a + 5 * H,
            "EST before the change"
        );
        assert_eq!(s.get(2).unwrap().original_ns, b + 4 * H, "EDT after it");
        assert_eq!(
            s.get(3).unwrap().original_ns,
            7,
            "absolute times do not move"
        );
        s.apply(&inv, 2).unwrap();
        assert_eq!(
            (s.get(1).unwrap().original_ns, s.get(2).unwrap().original_ns),
            (a, b)
        );
        assert_eq!(s.zones[0], "UTC");
        let bad = Edit::SetSourceZone {
            source: 0,
            from: "UTC".into(),
            to: "Mars/Olympus".into(),
        };
        assert!(s.apply(&bad, 3).is_err());
        assert_eq!(s.get(1).unwrap().original_ns, a);
    }

    #[test]
    fn inverse_restores_state() {
        let mut s = LabelSet::new(vec![ev(1, 100), ev(2, 200)], vec![0]);
        let before: Vec<(u64, i64, Status, String)> = s
            .events
            .iter()
            .map(|e| (e.id, s.adjusted_ns(e), e.status, e.class.clone()))
            .collect();
        let edits = vec![
            Edit::Retime {
                id: 1,
                from: None,
                to: Some(150),
            },
            Edit::mark_duplicate(&s.events[1], 1),
            Edit::Relabel {
                id: 2,
                from: "on".into(),
                to: "off".into(),
            },
            Edit::SetSourceOffset {
                source: 0,
                from: 0,
                to: 7,
            },
            Edit::Batch {
                label: "bulk".into(),
                edits: vec![
                    Edit::reject(&s.events[0]),
                    Edit::Remove {
                        event: Box::new(s.events[1].clone()),
                    },
                ],
            },
        ];
        let mut h = History::default();
        for e in edits {
            h.apply(&mut s, e).unwrap();
        }
        assert_eq!(s.events.len(), 1);
        while h.undo(&mut s).unwrap() {}
        let after: Vec<(u64, i64, Status, String)> = s
            .events
            .iter()
            .map(|e| (e.id, s.adjusted_ns(e), e.status, e.class.clone()))
            .collect();
        assert_eq!(before, after);
        assert!(h.redo(&mut s).unwrap());
        assert_eq!(s.adjusted_ns(&s.events[0]), 150);
    }

    #[test]
    fn a_drift_moves_times_along_its_line_and_undoes() {
        const S: i64 = 1_000_000_000;
        let mut s = LabelSet::new(vec![ev(1, 0), ev(2, 86_400 * S)], vec![5 * S]);
        s.steps[0] = vec![(10, S)];
        let mut h = History::default();
        h.apply(
            &mut s,
            Edit::SetSourceDrift {
                source: 0,
                from: vec![],
                to: vec![(86_400 * S, 20 * S), (0, 0)],
            },
        )
        .unwrap();
        // Sorted on apply; offset + step + drift.
        assert_eq!(s.drifts[0], vec![(0, 0), (86_400 * S, 20 * S)]);
        assert_eq!(s.adjusted_ns(&s.events[0]), 5 * S);
        assert_eq!(s.adjusted_ns(&s.events[1]), 86_400 * S + 26 * S);
        assert!(h.undo(&mut s).unwrap());
        assert!(s.drifts[0].is_empty());
        assert_eq!(s.adjusted_ns(&s.events[1]), 86_400 * S + 6 * S);
        assert!(h.redo(&mut s).unwrap());
        assert_eq!(s.adjusted_ns(&s.events[1]), 86_400 * S + 26 * S);
        let bad = Edit::SetSourceDrift {
            source: 3,
            from: vec![],
            to: vec![(0, 0)],
        };
        assert!(s.apply(&bad, 9).is_err());
    }

    #[test]
    fn failed_batch_is_atomic() {
        let mut s = LabelSet::new(vec![ev(1, 100)], vec![0]);
        let b = Edit::Batch {
            label: "x".into(),
            edits: vec![
                Edit::Retime {
                    id: 1,
                    from: None,
                    to: Some(5),
                },
                Edit::Retime {
                    id: 99,
                    from: None,
                    to: Some(5),
                },
            ],
        };
        assert!(s.apply(&b, 0).is_err());
        assert_eq!(s.events[0].retime_ns, None);
    }

    #[test]
    fn journal_replay_and_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.edits.jsonl");
        let mut s = LabelSet::new(vec![ev(1, 100), ev(2, 200)], vec![0]);
        {
            let (j, r) = Journal::open(&p).unwrap();
            assert!(r.entries.is_empty());
            let mut h = History {
                journal: Some(j),
                ..Default::default()
            };
            h.apply(
                &mut s,
                Edit::Retime {
                    id: 1,
                    from: None,
                    to: Some(111),
                },
            )
            .unwrap();
            h.apply(
                &mut s,
                Edit::Retime {
                    id: 2,
                    from: None,
                    to: Some(222),
                },
            )
            .unwrap();
            h.undo(&mut s).unwrap();
        }
        // Simulate a crash mid-write.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        use std::io::Write;
        f.write_all(b"{\"seq\":3,\"step\":\"app").unwrap();
        drop(f);
        let (_, r) = Journal::open(&p).unwrap();
        assert_eq!(r.torn.map(|t| t.0), Some(4));
        assert_eq!(r.entries.len(), 3);
        let mut s2 = LabelSet::new(vec![ev(1, 100), ev(2, 200)], vec![0]);
        let mut h2 = History::default();
        assert!(h2.replay(&mut s2, r.entries).is_empty());
        assert_eq!(s2.events[0].retime_ns, Some(111));
        assert_eq!(s2.events[1].retime_ns, None);
        assert!(h2.can_redo());
        h2.redo(&mut s2).unwrap();
        assert_eq!(s2.events[1].retime_ns, Some(222));
        // A reader leaves the torn bytes; the writer lock cuts them.
        let (mut j, r) = Journal::open(&p).unwrap();
        assert!(r.torn.is_some());
        j.lock().unwrap();
        drop(j);
        let (_, r) = Journal::open(&p).unwrap();
        assert!(r.torn.is_none());
    }
}
