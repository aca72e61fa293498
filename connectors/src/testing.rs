//! For tests of polc and of projects that use it: a real `scim2-server` (PyPI) started on
//! a free port of 127.0.0.1, killed (SIGKILL: it may ignore SIGTERM) when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `scim2-server`; its tenants are served under `/{tenant}/v2`.
pub struct Scim2Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Scim2Server {
    /// Starts `VENV/bin/scim2-server` with a bearer token and tenants; panics with what the
    /// server said when it does not start (a test's failure), or naming `.ci/deps` when it
    /// is not installed.
    pub fn start(venv: &Path, token: &str, tenants: &[&str]) -> Scim2Server {
        let program = venv.join("bin/scim2-server");
        assert!(
            program.exists(),
            "{} is missing: run `bash .ci/deps` (it installs scim2-server in target/test-venv), \
             or point POLC_TEST_VENV at a virtualenv that has it",
            program.display()
        );
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&program)
                .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
                .args(["--bearer-token", token])
                .args(tenants.iter().flat_map(|t| ["--tenant", t]))
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start scim2-server");
            let (send, lines) = mpsc::channel::<String>();
            for out in [
                child
                    .stdout
                    .take()
                    .map(|o| Box::new(o) as Box<dyn Read + Send>),
                child
                    .stderr
                    .take()
                    .map(|e| Box::new(e) as Box<dyn Read + Send>),
            ]
            .into_iter()
            .flatten()
            {
                let send = send.clone();
                // Read (and keep draining: the server logs every request) until the end.
                std::thread::spawn(move || {
                    for line in BufReader::new(out).lines() {
                        let Ok(line) = line else { break };
                        let _ = send.send(line);
                    }
                });
            }
            drop(send);
            let mut server = Scim2Server { child, port };
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut seen = String::new();
            while Instant::now() < deadline {
                match lines.recv_timeout(Duration::from_millis(200)) {
                    Ok(line) if line.contains("Serving SCIM on") => {
                        // Keep draining in the background.
                        std::thread::spawn(move || for _ in lines {});
                        return server;
                    }
                    Ok(line) => {
                        seen.push_str(&line);
                        seen.push('\n');
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if let Ok(Some(_)) = server.child.try_wait() {
                            break;
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            let _ = server.child.kill();
            last = seen;
        }
        panic!("scim2-server did not start; it said:\n{last}");
    }

    /// The base URL of a tenant.
    pub fn url(&self, tenant: &str) -> String {
        format!("http://127.0.0.1:{}/{tenant}/v2", self.port)
    }
}
