//! The PostgreSQL state over TLS, against the test cluster (which serves a certificate for
//! 127.0.0.1 signed by an authority of its own): each `sslmode` does what libpq's does.

use polc_provision::db::Db;
use polc_provision::pgtest;

/// The URL of a new database with `query` added.
fn url(query: &str) -> String {
    format!("{}?{query}", pgtest::shared().database())
}

/// Whether the connection is encrypted, as the server sees it.
fn encrypted(db: &Db) -> bool {
    let n: i64 = db
        .query_row(
            "SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            [],
            |r| r.get(0),
        )
        .unwrap();
    n == 1
}

fn ca() -> String {
    pgtest::shared().ca_file().display().to_string()
}

fn open_err(url: &str) -> String {
    match Db::open_postgres(url) {
        Ok(_) => panic!("connected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn verify_full_with_the_servers_authority_is_encrypted() {
    let db = Db::open_postgres(&url(&format!("sslmode=verify-full&sslrootcert={}", ca()))).unwrap();
    assert!(encrypted(&db));
}

#[test]
fn the_default_and_require_encrypt_without_checking_the_certificate() {
    assert!(encrypted(
        &Db::open_postgres(&pgtest::shared().database()).unwrap()
    ));
    assert!(encrypted(
        &Db::open_postgres(&url("sslmode=require")).unwrap()
    ));
    assert!(!encrypted(
        &Db::open_postgres(&url("sslmode=disable")).unwrap()
    ));
}

#[test]
fn an_authority_that_did_not_sign_the_certificate_is_refused() {
    let other = pgtest::shared()
        .ca_file()
        .with_file_name("other-ca.pem")
        .display()
        .to_string();
    let e = open_err(&url(&format!("sslmode=verify-full&sslrootcert={other}"))).to_lowercase();
    assert!(e.contains("certificate") || e.contains("issuer"), "{e}");
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    // the certificate names 127.0.0.1, not localhost
    let u =
        url(&format!("sslmode=verify-full&sslrootcert={}", ca())).replace("127.0.0.1", "localhost");
    let e = open_err(&u).to_lowercase();
    assert!(e.contains("name") || e.contains("certificate"), "{e}");
    let u =
        url(&format!("sslmode=verify-ca&sslrootcert={}", ca())).replace("127.0.0.1", "localhost");
    assert!(encrypted(&Db::open_postgres(&u).unwrap()));
}

#[test]
fn a_bad_sslmode_or_authority_file_is_said_plainly() {
    let e = open_err(&url("sslmode=sometimes"));
    assert!(e.contains("sslmode"), "{e}");
    let e = open_err(&url("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"));
    assert!(e.contains("/nonexistent/ca.pem"), "{e}");
}

/// A system's lock holds a connection of its own: it is made as the state's, encrypted
/// when the URL asks (it was once made in the clear, and `require` refused it: no apply
/// could run on a state over TLS).
#[test]
fn a_systems_lock_connects_as_the_state_does() {
    let dir = tempfile::tempdir().unwrap();
    for query in [
        format!("sslmode=verify-full&sslrootcert={}", ca()),
        "sslmode=require".to_string(),
        "sslmode=disable".to_string(),
    ] {
        let u = url(&query);
        let state =
            polc_provision::state::State::open_postgres(&u, &dir.path().join("state.db")).unwrap();
        let lock = state.lock_system("github", false).unwrap();
        // the lock's connection is named after its holder: the server says how it came
        let ssl: Vec<bool> = state
            .conn
            .prepare(
                "SELECT CASE WHEN s.ssl THEN 1 ELSE 0 END FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
                 WHERE a.application_name LIKE 'polc %' AND a.datname = current_database()",
            )
            .unwrap()
            .query_map([], |r| r.get::<_, i64>(0).map(|v| v != 0))
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(ssl, vec![query != "sslmode=disable"], "{query}");
        drop(lock);
    }
}
