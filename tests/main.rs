//! One integration-test binary (link once): modules per area.

mod common;

mod alignment;
mod by_day;
mod cache;
mod capture_real;
mod cli;
mod curation;
mod export;
mod export_formats;
mod features;
mod flows;
mod formats;
mod gui;
mod gui_flows;
mod gui_projects;
mod gui_window;
mod inputs;
mod labels_real;
mod learning;
mod per_event;
mod safety;
mod scale;
mod sim;
