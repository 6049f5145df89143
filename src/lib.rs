//! labelbench core, laid out by pipeline stage. No GUI code lives here (the `gui` module is
//! compiled only with the `gui` feature; `cargo check --lib --no-default-features` proves it).
//!
//! - [`capture`]: reading pcap and pcapng files into packet rows.
//! - [`traffic`]: the packet store, flows, devices and their registry, the derived cache and
//!   the timeline's bins.
//! - [`labels`]: label sources (event logs) read into events.
//! - [`curation`]: suggestions (duplicates, skew, offsets, source health), edits and the journal.
//! - [`learn`]: per-event features, cross-validation, the forest and the report.
//! - [`export`]: the cleaned dataset and its manifest.
//! - [`project`]: the project file, a loaded session and its summary.
//! - [`devtools`]: the simulator, benchmarks and evaluation (not used by the stages above).
//!
//! Shared vocabulary: [`error`], [`progress`], [`timefmt`], [`numfmt`] and [`fsguard`].

pub mod capture;
pub mod curation;
pub mod devtools;
pub mod error;
pub mod export;
pub mod fsguard;
pub mod labels;
pub mod learn;
pub mod numfmt;
pub mod progress;
pub mod project;
pub mod timefmt;
pub mod traffic;

pub use error::{Error, Result};

#[cfg(feature = "gui")]
pub mod gui;
