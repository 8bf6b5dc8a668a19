//! Running the binary and reading its output.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The repository root, for paths to examples and testdata.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `mailwarden` command with colour off.
pub fn mailwarden() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailwarden"));
    c.env("NO_COLOR", "1").current_dir(repo()).stdin(Stdio::null());
    c
}

/// Run and capture; returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("run mailwarden");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

pub fn run_args(args: &[&str]) -> (i32, String, String) {
    run(mailwarden().args(args))
}
