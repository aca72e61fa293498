//! What the provisioning commands share: finding the project (`--config FILE`, or
//! `polc.toml` in the working directory or a parent), opening it with the real connectors,
//! the output format, a spinner for long runs, and how a provisioning error ends the
//! command.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use polc_provision::{DefaultConnectors, Project, Provision};

use super::{Exit, InputError};

/// The project file.
#[derive(Args, Clone, Default)]
pub struct ProjectArgs {
    /// The project file (default: polc.toml in the working directory or its parents)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The state in this PostgreSQL database, whatever `[state]` says (also
    /// POLC_STATE_URL, which keeps a password out of the process list)
    #[arg(long, value_name = "URL")]
    pub state_url: Option<String>,
}

/// How a report is printed.
#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A text for people
    #[default]
    Human,
    /// The report as JSON
    Json,
}

impl ProjectArgs {
    /// Loads the project file.
    pub fn project(&self) -> polc_provision::Result<Project> {
        Project::load(&self.file()?)
    }

    /// The project file: `--config`, else found from the working directory.
    fn file(&self) -> polc_provision::Result<PathBuf> {
        set_state_url(self.state_url.as_deref());
        match &self.config {
            Some(f) => Ok(f.clone()),
            None => {
                let cwd = std::env::current_dir().map_err(|e| {
                    polc_provision::Error::Input(format!("the working directory: {e}"))
                })?;
                Project::find(&cwd)
            }
        }
    }

    /// Opens the project and its state with the connectors of this build.
    pub fn open(&self) -> polc_provision::Result<Provision> {
        Provision::open(self.project()?, Box::new(DefaultConnectors))
    }

    /// [`ProjectArgs::open`] for a command that only reads the state: the systems' secrets
    /// need not be set.
    pub fn open_for_reading(&self) -> polc_provision::Result<Provision> {
        let project = Project::load_for_reading(&self.file()?)?;
        Provision::open(project, Box::new(DefaultConnectors))
    }
}

/// `--state-url`: what [`Project::load`] reads, for the process (set while it is on one
/// thread, before the project is loaded).
pub fn set_state_url(url: Option<&str>) {
    if let Some(u) = url {
        std::env::set_var(polc_provision::config::STATE_URL_ENV, u);
    }
}

/// Prints a provisioning error and answers its exit code.
pub fn fail(e: polc_provision::Error) -> Result<Exit, InputError> {
    eprintln!("error: {e}");
    Ok(e.exit_code())
}

/// Prints a report as the format says.
pub fn print<R: serde::Serialize>(
    format: Format,
    report: &R,
    human: impl FnOnce(&R) -> String,
) -> Result<(), InputError> {
    match format {
        Format::Human => super::print_stdout(&human(report)),
        Format::Json => super::print_json(report),
    }
}

/// Progress on stderr while `f` runs on `p` (`hris import`, `pull`, `apply`), only when stderr is a
/// terminal: a spinner, that becomes a bar with counts once the run says how many there
/// are.
pub fn with_progress<T>(p: &mut Provision, what: &str, f: impl FnOnce(&mut Provision) -> T) -> T {
    let Some(pb) = spinner(what) else {
        return f(p);
    };
    p.set_progress(Some(Box::new(Bar {
        pb: pb.clone(),
        counted: std::sync::atomic::AtomicBool::new(false),
    })));
    let out = f(p);
    p.set_progress(None);
    pb.finish_and_clear();
    out
}

/// A spinner saying `what` on stderr, when stderr is a terminal.
fn spinner(what: &str) -> Option<indicatif::ProgressBar> {
    use indicatif::{ProgressBar, ProgressStyle};
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(what.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// A terminal's progress bar for the library's reports.
struct Bar {
    pb: indicatif::ProgressBar,
    /// Drawn as a bar with counts (once a total is known).
    counted: std::sync::atomic::AtomicBool,
}

impl polc_provision::Progress for Bar {
    fn report(&self, what: &str, done: u64, total: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        if total > 0 && !self.counted.swap(true, Relaxed) {
            self.pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} {bar:40} {pos}/{len} ({per_sec}, {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
        }
        if total > 0 {
            self.pb.set_length(total);
            self.pb.set_position(done.min(total));
        }
        self.pb.set_message(what.to_string());
    }
}
