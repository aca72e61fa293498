//! The `exec` connector: a program of the user's that speaks one JSON line per request.
//!
//! The program is started (argv from the configuration, no shell) on the first call and
//! kept running; each call writes one request line to its stdin and waits for one answer
//! line on its stdout. A program that dies, does not answer within `timeout`, answers a
//! line longer than `max_line_bytes` or a line that is not the expected JSON fails that
//! call as [`ConnectorError::Transient`]: it is killed, and started again on the next
//! call. The end of what it wrote on stderr (bounded) is put in the error. The protocol is
//! described for users in `docs/connectors.md`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::text::{clip, clip_bytes};
use crate::{
    AccountState, Applied, Change, Connector, ConnectorError, Holding, LeaverMode, Listing, Person,
    ReadBack,
};

/// How to run the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecConfig {
    /// The program and its arguments (`command` in `polc.toml`); never through a shell.
    pub command: Vec<String>,
    /// How long one answer may take (`timeout_seconds`, default 30).
    pub timeout: Duration,
    /// The longest answer line read (default 16 MiB); a longer one fails the call.
    pub max_line_bytes: usize,
    /// The folder the program runs in (default: the caller's).
    pub working_dir: Option<PathBuf>,
    /// Variables added to the program's environment.
    pub env: BTreeMap<String, String>,
}

impl ExecConfig {
    /// `command` with the defaults.
    pub fn new(command: Vec<String>) -> Self {
        ExecConfig {
            command,
            timeout: Duration::from_secs(30),
            max_line_bytes: 16 << 20,
            working_dir: None,
            env: BTreeMap::new(),
        }
    }
}

/// How much of the program's stderr is kept (its end).
const STDERR_KEPT: usize = 8 << 10;
/// How much of it goes into an error message.
const STDERR_SHOWN: usize = 400;
/// How much of an answer or of a program's error text goes into an error message.
const ANSWER_SHOWN: usize = 300;

/// The `exec` connector.
pub struct ExecConnector {
    config: ExecConfig,
    running: Option<Running>,
    /// `None` until the program has answered a `read`; `Some(false)` when it said it does
    /// not support it (read back then goes through `list`).
    read_supported: Option<bool>,
}

impl std::fmt::Debug for ExecConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecConnector")
            .field("command", &self.config.command)
            .field("running", &self.running.as_ref().map(|r| r.child.id()))
            .finish()
    }
}

/// A line read by the reader thread, or why there is none.
enum Line {
    Text(Vec<u8>),
    TooLong,
    End,
    Failed(String),
}

struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_done: Arc<AtomicBool>,
}

impl Running {
    fn stderr_tail(&self) -> String {
        let kept = match self.stderr.lock() {
            Ok(kept) => kept.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let start = kept.len().saturating_sub(STDERR_SHOWN);
        clip_bytes(&kept[start..], STDERR_SHOWN)
    }

    fn clear_stderr(&self) {
        if let Ok(mut kept) = self.stderr.lock() {
            kept.clear();
        }
    }

    /// Kills the program and waits for it (a killed program cannot block the wait).
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ExecConnector {
    fn drop(&mut self) {
        if let Some(mut running) = self.running.take() {
            // Closing stdin tells a well-behaved program to exit; one that does not within
            // a moment is killed.
            drop(running.stdin.take());
            let deadline = Instant::now() + Duration::from_millis(500);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = running.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            running.kill();
        }
    }
}

impl ExecConnector {
    /// A connector for `config` (the program starts on the first call).
    pub fn new(config: ExecConfig) -> Result<Self, ConnectorError> {
        if config.command.is_empty() {
            return Err(ConnectorError::Config(
                "exec connector: `command` is empty".into(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(ConnectorError::Config(
                "exec connector: `timeout_seconds` must be more than 0".into(),
            ));
        }
        Ok(ExecConnector {
            config,
            running: None,
            read_supported: None,
        })
    }

    /// The program's process id while it runs (for tests and diagnostics).
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    fn program(&self) -> String {
        clip(&self.config.command[0], 200)
    }

    fn start(&mut self) -> Result<&mut Running, ConnectorError> {
        if self.running.is_none() {
            let mut command = Command::new(&self.config.command[0]);
            command
                .args(&self.config.command[1..])
                .envs(&self.config.env)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if let Some(dir) = &self.config.working_dir {
                command.current_dir(dir);
            }
            let mut child = command.spawn().map_err(|e| {
                ConnectorError::Transient(format!("cannot start {}: {e}", self.program()))
            })?;
            let (Some(stdin), Some(stdout), Some(stderr)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ConnectorError::Transient(format!(
                    "cannot talk to {}: no pipes",
                    self.program()
                )));
            };
            let (send, lines) = mpsc::channel();
            let max = self.config.max_line_bytes;
            std::thread::spawn(move || read_lines(stdout, max, send));
            let kept = Arc::new(Mutex::new(Vec::new()));
            let done = Arc::new(AtomicBool::new(false));
            {
                let kept = Arc::clone(&kept);
                let done = Arc::clone(&done);
                std::thread::spawn(move || keep_tail(stderr, &kept, &done));
            }
            self.running = Some(Running {
                child,
                stdin: Some(stdin),
                lines,
                stderr: kept,
                stderr_done: done,
            });
        }
        match self.running.as_mut() {
            Some(running) => Ok(running),
            None => Err(ConnectorError::Transient(
                "the program is not running".into(),
            )),
        }
    }

    /// Kills the program and makes the error of a failed call, with its stderr's end.
    fn fail(&mut self, what: String) -> ConnectorError {
        let Some(mut running) = self.running.take() else {
            return ConnectorError::Transient(what);
        };
        let _ = running.child.kill();
        let status = running.child.wait().ok();
        // Give the stderr reader a moment to take the last words of a program that died.
        let deadline = Instant::now() + Duration::from_millis(200);
        while !running.stderr_done.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let tail = running.stderr_tail();
        let status = match status.and_then(|s| s.code()) {
            Some(code) if what.contains("exited") => format!(" (exit status {code})"),
            _ => String::new(),
        };
        let stderr = if tail.is_empty() {
            String::new()
        } else {
            format!("; its stderr ends with: {tail}")
        };
        ConnectorError::Transient(format!("{}: {what}{status}{stderr}", self.program()))
    }

    /// Sends one request and reads its answer as JSON.
    fn call(&mut self, request: &Value) -> Result<Value, ConnectorError> {
        let timeout = self.config.timeout;
        let mut line = request.to_string();
        line.push('\n');
        let running = self.start()?;
        running.clear_stderr();
        let written = match running.stdin.as_mut() {
            Some(stdin) => without_sigpipe(|| {
                stdin
                    .write_all(line.as_bytes())
                    .and_then(|()| stdin.flush())
            }),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if let Err(e) = written {
            return Err(self.fail(format!("exited before reading the request ({e})")));
        }
        let answer = match running.lines.recv_timeout(timeout) {
            Ok(Line::Text(answer)) => answer,
            Ok(Line::TooLong) => {
                return Err(self.fail(format!(
                    "answered a line longer than {} bytes",
                    self.config.max_line_bytes
                )))
            }
            Ok(Line::End) | Err(RecvTimeoutError::Disconnected) => {
                return Err(self.fail("exited without answering".into()))
            }
            Ok(Line::Failed(e)) => return Err(self.fail(format!("cannot read its answer: {e}"))),
            Err(RecvTimeoutError::Timeout) => {
                return Err(self.fail(format!(
                    "did not answer within {} s (killed)",
                    timeout.as_secs_f64()
                )))
            }
        };
        match serde_json::from_slice::<Value>(&answer) {
            Ok(value) if value.is_object() => Ok(value),
            _ => Err(self.fail(format!(
                "answered something that is not a JSON object: {}",
                clip_bytes(&answer, ANSWER_SHOWN)
            ))),
        }
    }

    /// A change request's answer: `{"ok": true, "already": …}` or `{"ok": false, …}`.
    fn outcome(&mut self, answer: Value) -> Result<Applied, ConnectorError> {
        #[derive(Deserialize)]
        struct Outcome {
            ok: bool,
            #[serde(default)]
            already: Option<String>,
            #[serde(default)]
            error: Option<String>,
            #[serde(default)]
            retry: Option<bool>,
        }
        let Ok(outcome) = serde_json::from_value::<Outcome>(answer.clone()) else {
            return Err(self.fail(format!(
                "answered without a boolean `ok`: {}",
                clip(&answer.to_string(), ANSWER_SHOWN)
            )));
        };
        if outcome.ok {
            return match outcome.already.as_deref() {
                None => Ok(Applied::Done),
                Some("present") => Ok(Applied::AlreadyPresent),
                Some("absent") => Ok(Applied::AlreadyAbsent),
                Some(other) => Err(self.fail(format!(
                    "answered `already` = {}, not \"present\" or \"absent\"",
                    clip(other, 60)
                ))),
            };
        }
        Err(refusal(&self.program(), &outcome.error, outcome.retry))
    }
}

/// The error of an `{"ok": false}` answer.
fn refusal(program: &str, error: &Option<String>, retry: Option<bool>) -> ConnectorError {
    let text = format!(
        "{program} refused: {}",
        clip(error.as_deref().unwrap_or("(no error given)"), ANSWER_SHOWN)
    );
    if retry.unwrap_or(false) {
        ConnectorError::Transient(text)
    } else {
        ConnectorError::Permanent(text)
    }
}

/// Reads `stdout` line by line into `send`, never holding more than `max` bytes of a line.
fn read_lines(stdout: impl Read, max: usize, send: mpsc::Sender<Line>) {
    let mut reader = BufReader::with_capacity(64 << 10, stdout);
    loop {
        let mut line = Vec::new();
        loop {
            let buffer = match reader.fill_buf() {
                Ok(buffer) => buffer,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = send.send(Line::Failed(e.to_string()));
                    return;
                }
            };
            if buffer.is_empty() {
                let _ = send.send(Line::End);
                return;
            }
            let (taken, complete) = match buffer.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buffer.len(), false),
            };
            let body = if complete { taken - 1 } else { taken };
            if line.len() + body > max {
                let _ = send.send(Line::TooLong);
                return;
            }
            line.extend_from_slice(&buffer[..body]);
            reader.consume(taken);
            if complete {
                break;
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            // Blank lines between answers are tolerated.
            continue;
        }
        if send.send(Line::Text(line)).is_err() {
            return;
        }
    }
}

/// Keeps the last [`STDERR_KEPT`] bytes of `stderr` in `kept`.
fn keep_tail(mut stderr: impl Read, kept: &Mutex<Vec<u8>>, done: &AtomicBool) {
    let mut buffer = [0u8; 4096];
    loop {
        match stderr.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if let Ok(mut kept) = kept.lock() {
                    kept.extend_from_slice(&buffer[..n]);
                    if kept.len() > STDERR_KEPT {
                        let cut = kept.len() - STDERR_KEPT;
                        kept.drain(..cut);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    done.store(true, Ordering::Release);
}

fn mode_name(mode: LeaverMode) -> &'static str {
    match mode {
        LeaverMode::Deactivate => "deactivate",
        LeaverMode::Delete => "delete",
        LeaverMode::Keep => "keep",
    }
}

/// The request line of a change.
fn request(person: &Person, change: &Change) -> Value {
    let mut request = match change {
        Change::Grant { grant, level } => json!({"op": "grant", "grant": grant, "level": level}),
        Change::Revoke { grant } => json!({"op": "revoke", "grant": grant}),
        Change::SetLevel { grant, from, to } => {
            json!({"op": "set_level", "grant": grant, "from_level": from, "level": to})
        }
        Change::Deprovision { mode } => json!({"op": "deprovision", "mode": mode_name(*mode)}),
        Change::Reactivate => json!({"op": "reactivate"}),
    };
    request["user_id"] = json!(person.user_id);
    request["attributes"] = json!(person.attributes);
    request
}

#[derive(Deserialize)]
struct ListAnswer {
    grants: Vec<Holding>,
    #[serde(default)]
    accounts: Vec<AccountState>,
}

#[derive(Deserialize)]
struct ReadAnswer {
    #[serde(default)]
    levels: Vec<Option<String>>,
    #[serde(default)]
    active: Option<bool>,
}

impl Connector for ExecConnector {
    fn list(&mut self) -> Result<Listing, ConnectorError> {
        let answer = self.call(&json!({"op": "list"}))?;
        if answer.get("ok") == Some(&Value::Bool(false)) {
            return Err(refusal(
                &self.program(),
                &answer
                    .get("error")
                    .and_then(Value::as_str)
                    .map(String::from),
                answer.get("retry").and_then(Value::as_bool),
            ));
        }
        match serde_json::from_value::<ListAnswer>(answer) {
            Ok(list) => Ok(Listing {
                holdings: list.grants,
                accounts: list.accounts,
            }),
            Err(e) => Err(self.fail(format!(
                "answered `list` without a valid `grants` list: {}",
                clip(&e.to_string(), ANSWER_SHOWN)
            ))),
        }
    }

    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError> {
        let answer = self.call(&request(person, change))?;
        self.outcome(answer)
    }

    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError> {
        if self.read_supported != Some(false) {
            let answer = self.call(&json!({
                "op": "read",
                "user_id": person.user_id,
                "attributes": person.attributes,
                "grant": grant,
            }))?;
            let unsupported = answer.get("ok") == Some(&Value::Bool(false))
                && answer.get("unsupported") == Some(&Value::Bool(true));
            if !unsupported {
                if answer.get("ok") == Some(&Value::Bool(false)) {
                    return Err(refusal(
                        &self.program(),
                        &answer
                            .get("error")
                            .and_then(Value::as_str)
                            .map(String::from),
                        answer.get("retry").and_then(Value::as_bool),
                    ));
                }
                self.read_supported = Some(true);
                return match serde_json::from_value::<ReadAnswer>(answer) {
                    Ok(read) => Ok(ReadBack {
                        levels: read.levels,
                        active: read.active,
                    }),
                    Err(e) => Err(self.fail(format!(
                        "answered `read` without valid `levels`: {}",
                        clip(&e.to_string(), ANSWER_SHOWN)
                    ))),
                };
            }
            self.read_supported = Some(false);
        }
        let listing = self.list()?;
        let levels = match grant {
            Some(grant) => listing
                .holdings
                .into_iter()
                .filter(|h| h.user_id == person.user_id && h.grant == grant)
                .map(|h| h.level)
                .collect(),
            None => Vec::new(),
        };
        let active = listing
            .accounts
            .iter()
            .find(|a| a.user_id == person.user_id)
            .map(|a| a.active);
        Ok(ReadBack { levels, active })
    }
}

/// Runs `write` with SIGPIPE blocked on this thread, so that writing to a program that has
/// exited is an error (`EPIPE`: the call fails and is retried) rather than a signal that ends
/// polc, whatever the process does with SIGPIPE (the `polc` binary restores its default so
/// that `polc … | head` ends quietly). A SIGPIPE the write raised is taken from the thread
/// before the mask is restored.
#[cfg(unix)]
#[allow(unsafe_code)]
fn without_sigpipe<T>(write: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    // SAFETY: the sets are plain data initialised by sigemptyset before use; the calls only
    // change this thread's signal mask and take a SIGPIPE pending on it (sigwait returns at
    // once: it is called only when the signal is pending).
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        let pending = || {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigpending(&mut set);
            libc::sigismember(&set, libc::SIGPIPE) == 1
        };
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
        let before = pending();
        let r = write();
        if !before && pending() {
            let mut sig = 0;
            libc::sigwait(&pipe, &mut sig);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r
    }
}

#[cfg(not(unix))]
fn without_sigpipe<T>(write: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    write()
}
