//! Any bytes as an edit journal: opening it never panics (a torn last line is cut off, a
//! corrupt line elsewhere is an error), and replaying what it holds over a label set never
//! panics, whatever events or sources its edits name.
#![no_main]

use labelbench::curation::edits::{History, Journal, LabelSet};
use labelbench::labels::{Event, Precision, Status};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn event(id: u64, device: u16, class: &str, ns: i64) -> Event {
    Event {
        id,
        device,
        device_text: format!("dev{device}"),
        class: class.into(),
        source: (id / 1_000_000) as u16,
        line: (id % 1_000_000) as u32,
        raw: String::new(),
        time_text: String::new(),
        original_ns: ns,
        precision: Precision::Minute,
        duration_ns: 0,
        retime_ns: None,
        status: Status::Active,
        duplicate_of: None,
        edits: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    let path = dir.path().join("p.labelbench.edits.jsonl");
    std::fs::write(&path, data).unwrap();
    let Ok((_journal, replay)) = Journal::open(&path) else {
        return;
    };
    let mut set = LabelSet::new(
        vec![
            event(1, 0, "motion", 1_000_000_000),
            event(2, 0, "motion", 1_060_000_000),
            event(1_000_001, 1, "on", 2_000_000_000),
        ],
        vec![0, 0],
    );
    let mut history = History::default();
    let _problems = history.replay(&mut set, replay.entries);
    // Whatever was replayed, undoing and redoing everything keeps working.
    while history.undo(&mut set).unwrap_or(false) {}
    while history.redo(&mut set).unwrap_or(false) {}
    assert!(set.events.windows(2).all(|w| w[0].id < w[1].id));
});
