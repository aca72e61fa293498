//! Encryption of the PostgreSQL connection, with libpq's words in the URL:
//!
//! - `sslmode=disable`: plain TCP.
//! - `sslmode=prefer` (the default) and `require`: TLS (when the server offers it, for
//!   `prefer`), the certificate not checked: the connection is private from onlookers, not
//!   from a machine in the middle.
//! - `sslmode=verify-ca`: TLS, the certificate signed by a trusted authority.
//! - `sslmode=verify-full`: that, and issued to the host of the URL.
//!
//! The authorities are those of `sslrootcert=FILE` (PEM), or of the system
//! (`sslrootcert=system`, the default). The client underneath knows neither the `verify-`
//! modes nor `sslrootcert`: they are taken out of the URL here, before it is parsed.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::DbError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// What the URL asks of the connection's encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    /// `None`: the system's authorities.
    pub root: Option<PathBuf>,
}

/// `url` without `sslmode` and `sslrootcert` (with the `sslmode` the client understands put
/// back), and what they asked. Errors never repeat the URL.
pub fn split_url(url: &str) -> Result<(String, Tls), DbError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut tls = Tls {
        mode: SslMode::Prefer,
        root: None,
    };
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => {
                tls.mode = match decode(v).as_str() {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    _ => {
                        return Err(DbError::Tls(
                            "the state URL's sslmode is not one of disable, prefer, require, verify-ca, verify-full".into(),
                        ))
                    }
                }
            }
            "sslrootcert" => {
                let v = decode(v);
                tls.root = (v != "system").then(|| PathBuf::from(v));
            }
            _ => kept.push(pair),
        }
    }
    kept.push(match tls.mode {
        SslMode::Disable => "sslmode=disable",
        SslMode::Prefer => "sslmode=prefer",
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "sslmode=require",
    });
    Ok((format!("{base}?{}", kept.join("&")), tls))
}

/// `%XX` decoded (what a URL's query may hold); anything undecodable is kept as it is.
fn decode(s: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS configuration for `tls` (not called for `disable`).
pub fn client_config(tls: &Tls) -> Result<rustls::ClientConfig, DbError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match tls.mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            Arc::new(Unchecked(provider.clone()))
        }
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(roots(tls)?);
            let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| DbError::Tls(format!("the state's TLS authorities: {e}")))?;
            if tls.mode == SslMode::VerifyCa {
                Arc::new(AnyName(inner))
            } else {
                inner
            }
        }
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Tls(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn roots(tls: &Tls) -> Result<RootCertStore, DbError> {
    let mut store = RootCertStore::empty();
    match &tls.root {
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    DbError::Tls(format!(
                        "sslrootcert {}: cannot read PEM certificates: {e}",
                        file.display()
                    ))
                })?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(DbError::Tls(format!(
                    "sslrootcert {}: no certificate in it",
                    file.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(DbError::Tls(
                    "sslmode verify-ca or verify-full: the system has no certificate authorities; name them with sslrootcert=FILE".into(),
                ));
            }
        }
    }
    Ok(store)
}

/// `prefer`, `require`: any certificate (the handshake's signatures are still checked, so
/// the server holds the key of the certificate it sent).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain checked, the host name not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_loses_what_the_client_does_not_know() {
        let (u, t) = split_url("postgres://a:b@h:5432/d").unwrap();
        assert_eq!(u, "postgres://a:b@h:5432/d?sslmode=prefer");
        assert_eq!(t.mode, SslMode::Prefer);
        let (u, t) = split_url(
            "postgres://a@h/d?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(u, "postgres://a@h/d?connect_timeout=3&sslmode=require");
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root, Some(PathBuf::from("/etc/ca.pem")));
        let (_, t) = split_url("postgres://a@h/d?sslmode=verify-ca&sslrootcert=system").unwrap();
        assert_eq!((t.mode, t.root), (SslMode::VerifyCa, None));
        let (u, t) = split_url("postgres://a@h/d?sslmode=disable").unwrap();
        assert_eq!(u, "postgres://a@h/d?sslmode=disable");
        assert_eq!(t.mode, SslMode::Disable);
        assert!(split_url("postgres://a@h/d?sslmode=maybe").is_err());
    }
}
