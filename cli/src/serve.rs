//! `polc serve`: the long-running service on one project (docs/serve.md).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Exit, InputError};

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on (default: `[server] listen`, else 127.0.0.1:8080)
    #[arg(long)]
    listen: Option<String>,
    /// The project file (default: polc.toml in this folder or its parents)
    #[arg(long)]
    config: Option<PathBuf>,
    /// The state in this PostgreSQL database, whatever `[state]` says (also
    /// POLC_STATE_URL, which keeps a password out of the process list)
    #[arg(long, value_name = "URL")]
    state_url: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Logs on stderr: text or JSON lines
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Jobs that may wait for the worker before requests are answered 503
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// A request's time limit, in seconds
    #[arg(long, default_value_t = 60)]
    request_timeout: u64,
    /// Reload when the policies or the project file change, checked every N seconds
    /// (0: only on SIGHUP and POST /v1/reload)
    #[arg(long, default_value_t = 2)]
    watch_interval: u64,
}

pub fn run(a: ServeArgs) -> Result<Exit, InputError> {
    super::project::set_state_url(a.state_url.as_deref());
    let config = match a.config {
        Some(c) => c,
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| InputError(format!("cannot read the working directory: {e}")))?;
            polc_provision::Project::discover(&cwd)
                .map_err(|e| InputError(e.to_string()))?
                .file
        }
    };
    polc_serve::init_logging(matches!(a.log_format, LogFormat::Json));
    let mut opts = polc_serve::Options::new(config);
    opts.listen = a.listen;
    opts.tls_cert = a.tls_cert;
    opts.tls_key = a.tls_key;
    opts.log_json = matches!(a.log_format, LogFormat::Json);
    opts.queue = a.queue;
    opts.request_timeout = std::time::Duration::from_secs(a.request_timeout.max(1));
    opts.watch_interval = std::time::Duration::from_secs(a.watch_interval);
    polc_serve::run(opts).map_err(InputError)?;
    Ok(0)
}
