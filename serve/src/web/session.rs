//! Sign-in with a token, then a session: the cookie `polc_session` holds a random id (32
//! bytes from the operating system), the server keeps what goes with it in memory (the
//! SHA-256 of the token signed in with, the session's CSRF token, when it ends, a message
//! for the next page). The token itself is never kept. Each request checks the token is
//! still configured with the same role, so a reload that removes a token ends its sessions.
//!
//! CSRF: every form that changes something carries the session's token in a hidden field,
//! compared in constant time; the sign-in form, before any session, carries a token that must
//! match a cookie set with it (double submit). Cookies are `HttpOnly`, `SameSite=Strict`,
//! `Path=/`, and `Secure` under TLS.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{Auth, Caller};

/// The session cookie.
pub const COOKIE: &str = "polc_session";
/// The sign-in form's cookie (double-submit CSRF before a session exists).
pub const SIGNIN_COOKIE: &str = "polc_signin";
/// How long a session lasts after sign-in.
pub const TTL: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most (the oldest go first).
pub const MAX_SESSIONS: usize = 10_000;

/// A message for the next page a session shows (after a redirect).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

struct Entry {
    token_sha256: [u8; 32],
    csrf: String,
    expires: Instant,
    flash: Option<Flash>,
}

/// The signed-in caller of a request, with its session's CSRF token.
#[derive(Clone, Debug)]
pub struct Signed {
    /// SHA-256 of the session id (the map's key).
    key: [u8; 32],
    pub caller: Caller,
    pub csrf: String,
}

/// The sessions of this process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Entry>>,
}

/// 32 random bytes from the operating system, as hex.
pub fn random_hex() -> String {
    let mut b = [0u8; 32];
    // the operating system's generator does not fail on the platforms polc serves on; if
    // it ever did, no session can be made safely
    getrandom::fill(&mut b).expect("the operating system's random number generator failed");
    hex::encode(b)
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Equal, in constant time (for equal lengths).
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    /// A new session for the holder of `token_sha256`; its id (the cookie's value).
    pub fn create(&self, token_sha256: [u8; 32]) -> String {
        let id = random_hex();
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| e.expires > now);
        while map.len() >= MAX_SESSIONS {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.expires).map(|(k, _)| *k) else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(
            key(&id),
            Entry {
                token_sha256,
                csrf: random_hex(),
                expires: now + TTL,
                flash: None,
            },
        );
        id
    }

    /// The session of the cookie's id, if it is live and its token is still configured.
    pub fn get(&self, id: &str, auth: &Auth) -> Option<Signed> {
        let k = key(id);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.get(&k)?;
        if e.expires <= Instant::now() {
            map.remove(&k);
            return None;
        }
        let Some(caller) = auth.check_sha256(&e.token_sha256) else {
            map.remove(&k);
            return None;
        };
        Some(Signed {
            key: k,
            caller,
            csrf: e.csrf.clone(),
        })
    }

    pub fn end(&self, s: &Signed) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&s.key);
    }

    pub fn set_flash(&self, s: &Signed, ok: bool, text: impl Into<String>) {
        if let Some(e) = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&s.key)
        {
            e.flash = Some(Flash {
                ok,
                text: text.into(),
            });
        }
    }

    pub fn take_flash(&self, s: &Signed) -> Option<Flash> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&s.key)
            .and_then(|e| e.flash.take())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict`, `Secure` under TLS; `max_age` 0
/// removes it.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> HeaderValue {
    let mut c =
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    // the names and values are ours (hex, fixed names): always a valid header
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where to go after sign-in: a path of this site (never another site: no `//`, no `\`,
/// no scheme), else `/`.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_provision::config::Server;

    fn auth(tokens: &[(&str, &str, &str)]) -> Auth {
        let mut server = Server::default();
        for (name, role, tok) in tokens {
            server.tokens.insert(
                name.to_string(),
                polc_provision::config::ServerToken {
                    role: role.to_string(),
                    sha256: hex::encode(Auth::hash(tok)),
                    person: None,
                },
            );
        }
        Auth::from_config(&server).unwrap()
    }

    #[test]
    fn a_session_lives_while_its_token_is_configured() {
        let s = Sessions::default();
        let a = auth(&[("rita", "reviewer", "tok-r")]);
        let id = s.create(Auth::hash("tok-r"));
        assert_eq!(id.len(), 64);
        let signed = s.get(&id, &a).unwrap();
        assert_eq!(signed.caller.name, "rita");
        assert_eq!(signed.csrf.len(), 64);
        assert!(s.get("not-a-session", &a).is_none());
        // the token removed from the configuration: the session ends
        let none = auth(&[("vera", "viewer", "tok-v")]);
        assert!(s.get(&id, &none).is_none());
        assert!(s.get(&id, &a).is_none());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn flash_messages_are_read_once_and_sign_out_ends_the_session() {
        let s = Sessions::default();
        let a = auth(&[("rita", "reviewer", "tok-r")]);
        let id = s.create(Auth::hash("tok-r"));
        let signed = s.get(&id, &a).unwrap();
        s.set_flash(&signed, true, "approved");
        assert_eq!(s.take_flash(&signed).unwrap().text, "approved");
        assert!(s.take_flash(&signed).is_none());
        s.end(&signed);
        assert!(s.get(&id, &a).is_none());
    }

    #[test]
    fn cookies_and_next_paths() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; polc_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(COOKIE, "abc", "/", 10, true);
        assert_eq!(
            c.to_str().unwrap(),
            "polc_session=abc; Path=/; Max-Age=10; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(local_path(Some("/people/a?b=c")), "/people/a?b=c");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "x",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
