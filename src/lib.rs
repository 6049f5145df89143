//! labelbench core: captures, devices, flows, label sources, curation, features, learning and
//! export. No GUI code lives here (the `gui` module is compiled only with the `gui` feature).

pub mod cache;
pub mod capture;
pub mod curate;
pub mod devices;
pub mod edits;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod features;
pub mod fsguard;
pub mod inspect;
pub mod journal;
pub mod labels;
pub mod learn;
pub mod mapguard;
pub mod numfmt;
pub mod outdir;
pub mod progress;
pub mod project;
pub mod session;
pub mod sim;
pub mod timefmt;
pub mod timeline;
pub mod traffic;

pub use error::{Error, Result};
pub mod bench;

#[cfg(feature = "gui")]
pub mod gui;
