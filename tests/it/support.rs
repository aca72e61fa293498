//! What the test modules share: running the `polc` binary.

use std::path::Path;
use std::process::{Command, Output};

/// The `polc` binary built for these tests.
pub const POLC: &str = env!("CARGO_BIN_EXE_polc");

/// Runs `polc ARGS` in `dir` and returns its output.
pub fn polc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(POLC)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run polc")
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
