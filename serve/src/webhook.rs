//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,BASE64 [v1,BASE64 …]`, an HMAC-SHA256
//! over `{id}.{timestamp}.{body}` with a `whsec_`-prefixed base64 secret. Verified on the
//! raw bytes of the body, in constant time (`Mac::verify_slice`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a timestamp may be from now, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The signing secret (never printed: `Debug` shows nothing of it).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// `whsec_BASE64` (the prefix is optional, as in the reference libraries).
    pub fn parse(text: &str) -> Result<Secret, String> {
        let b64 = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        let key = STANDARD
            .decode(b64)
            .map_err(|_| "the webhook secret is not `whsec_` followed by base64".to_string())?;
        if key.len() < 16 {
            return Err(
                "the webhook secret is shorter than 16 bytes: generate a longer one".into(),
            );
        }
        Ok(Secret(key))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A header is missing or malformed.
    Malformed(String),
    /// The timestamp is outside the tolerance.
    Stale,
    /// No signature matches.
    BadSignature,
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "bad_webhook_headers",
            Rejection::Stale => "stale_timestamp",
            Rejection::BadSignature => "bad_signature",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Rejection::Malformed(m) => m.clone(),
            Rejection::Stale => format!(
                "webhook-timestamp is more than {TOLERANCE_SECONDS} seconds from the server's clock: resend with a fresh signature (and check the sender's clock)"
            ),
            Rejection::BadSignature => "no webhook-signature matches the body: check the secret the HRIS signs with (the `whsec_` value in the variable [server] webhook_secret_env names)".into(),
        }
    }
}

/// Verifies one delivery. `now` is the server's clock in Unix seconds.
pub fn verify(
    secret: &Secret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > 256 {
        return Err(Rejection::Malformed(
            "webhook-id is missing or longer than 256 characters".into(),
        ));
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Rejection::Malformed("webhook-timestamp is not Unix seconds".into()))?;
    if (now - ts).abs() > TOLERANCE_SECONDS {
        return Err(Rejection::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).map_err(|_| Rejection::BadSignature)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    let mut ok = false;
    for sig in signatures.split(' ').filter(|s| !s.is_empty()) {
        let Some(("v1", b64)) = sig.split_once(',') else {
            continue; // other versions are not ours to check
        };
        let Ok(raw) = STANDARD.decode(b64) else {
            continue;
        };
        // every candidate is checked: the time taken does not tell which one matched
        ok |= mac.clone().verify_slice(&raw).is_ok();
    }
    if ok {
        Ok(())
    } else {
        Err(Rejection::BadSignature)
    }
}

/// Signs like a sender (for tests and the docs' examples).
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn the_reference_example_verifies() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(
            sign(&s, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            sig
        );
        let v = |sigs: &str, now| {
            verify(
                &s,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                sigs,
                body,
                now,
            )
        };
        assert_eq!(v(sig, 1614265330), Ok(()));
        assert_eq!(v(&format!("v1,AAAA {sig}"), 1614265330), Ok(()));
        assert_eq!(v("v1,AAAA", 1614265330), Err(Rejection::BadSignature));
        assert_eq!(v(sig, 1614265330 + 301), Err(Rejection::Stale));
        assert_eq!(v(sig, 1614265330 - 301), Err(Rejection::Stale));
    }
}
