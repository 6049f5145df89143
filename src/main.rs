//! The `labelbench` binary: the GUI with no subcommand, the same core headless otherwise.
//! This file parses the command line and dispatches to [`cli`]; it decides the exit code.

use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

mod cli;

#[derive(Parser)]
#[command(
    name = "labelbench",
    version,
    about = "Label IoT network traffic with device events"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<cli::Cmd>,
}

fn main() -> ExitCode {
    let args = Cli::parse_from(with_gui_shorthand(std::env::args_os().collect()));
    match cli::run(args.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout went away (`| head`): not a failure of ours.
        Err(e) if cli::closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("labelbench: {msg}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

/// `labelbench PROJECT` means `labelbench gui PROJECT`: how a file manager's "Open with", or a
/// user who just made a project, calls it. A lone argument that is no subcommand or option
/// and is a file (or names a project, `*.json`, so a missing one is reported as such) gets
/// `gui` put in front; anything else is left for clap to parse or reject.
fn with_gui_shorthand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if let [_, arg] = args.as_slice() {
        let s = arg.to_string_lossy();
        let cmd = Cli::command();
        let known = s == "help" || cmd.get_subcommands().any(|c| c.get_name() == s);
        if !known && !s.starts_with('-') && (Path::new(arg).is_file() || s.ends_with(".json")) {
            args.insert(1, "gui".into());
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::with_gui_shorthand;
    use std::ffi::OsString;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_lone_project_path_opens_the_gui() {
        let sample = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample-data/sample.labelbench.json"
        );
        assert_eq!(
            with_gui_shorthand(args(&["labelbench", sample])),
            args(&["labelbench", "gui", sample])
        );
        // A missing project goes to `gui` too, which reports it as not found.
        assert_eq!(
            with_gui_shorthand(args(&["labelbench", "lab.labelbench.json"])),
            args(&["labelbench", "gui", "lab.labelbench.json"])
        );
        // Subcommands, options and other words are clap's.
        for a in [
            &["labelbench", "inspect"][..],
            &["labelbench", "help"],
            &["labelbench", "--version"],
            &["labelbench", "inspct"],
            &["labelbench"],
            &["labelbench", "inspect", sample],
        ] {
            assert_eq!(with_gui_shorthand(args(a)), args(a));
        }
    }
}
