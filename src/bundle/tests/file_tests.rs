//! The file: encoding round-trips; tampering, truncation and garbage are refused with the
//! right error and never a panic; signing is fail-closed; key files are checked.

use super::{every_variant, seed};
use crate::bundle::file::{decode, encode};
use crate::bundle::keys::{KeyProblem, PublicKey, SecretKey};
use crate::bundle::{load, read, ErrorKind};
use crate::ir;

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

fn bytes_of(b: &ir::Bundle, k: Option<&SecretKey>) -> Vec<u8> {
    encode(b, vec!["a.pol".into(), "b/c.pol".into()], k)
        .unwrap()
        .1
}

fn kind(bytes: &[u8], k: Option<&PublicKey>) -> ErrorKind {
    decode(bytes, k).expect_err("must be refused")
}

/// Index of the first byte of the content line.
fn content_start(bytes: &[u8]) -> usize {
    bytes.iter().position(|&b| b == b'\n').unwrap() + 1
}

#[test]
fn encode_decode_round_trips() {
    for b in [seed(), every_variant(), ir::Bundle::default()] {
        let bytes = bytes_of(&b, None);
        let (h, back) = decode(&bytes, None).unwrap();
        assert_eq!(back, b);
        assert_eq!(h.magic, "polc-bundle");
        assert_eq!(h.format_version, 1);
        assert_eq!(h.compiler_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(h.created_from, ["a.pol", "b/c.pol"]);
        assert!(h.signature.is_none() && h.key_id.is_none());
        // Deterministic: the same bundle gives the same bytes.
        assert_eq!(bytes_of(&b, None), bytes);
        crate::bundle::verify_round_trip(&bytes, &b).unwrap();
    }
}

#[test]
fn the_header_is_one_json_line_and_the_digest_covers_the_content() {
    let bytes = bytes_of(&seed(), None);
    let text = std::str::from_utf8(&bytes).unwrap();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with(r#"{"magic":"polc-bundle","format_version":1,"#));
    let h: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        h["digest"],
        crate::bundle::file::digest_of(lines[1].as_bytes())
    );
}

#[test]
fn flipping_any_content_byte_is_a_digest_error() {
    let bytes = bytes_of(&every_variant(), None);
    let start = content_start(&bytes);
    for i in (start..bytes.len() - 1).step_by(7) {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        assert_eq!(kind(&t, None), ErrorKind::Digest, "byte {i}");
    }
    let e = read(
        &bytes[..start]
            .iter()
            .chain(b"{}\n")
            .copied()
            .collect::<Vec<_>>(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "content does not match its digest: the bundle was modified or corrupted"
    );
}

#[test]
fn another_format_version_is_refused() {
    let text = String::from_utf8(bytes_of(&seed(), None)).unwrap();
    let v2 = text.replacen("\"format_version\":1,", "\"format_version\":2,", 1);
    let e = read(v2.as_bytes(), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "format version 2, this polc reads 1: rebuild it with `polc build`"
    );
    let odd = text.replacen("\"format_version\":1,", "\"format_version\":\"1\",", 1);
    assert!(matches!(kind(odd.as_bytes(), None), ErrorKind::Version(_)));
}

#[test]
fn wrong_magic_garbage_and_every_truncation_are_refused() {
    let bytes = bytes_of(&every_variant(), None);
    for n in 0..bytes.len() {
        let e = kind(&bytes[..n], None);
        assert!(
            matches!(
                e,
                ErrorKind::Truncated(_) | ErrorKind::NotABundle(_) | ErrorKind::Header(_)
            ),
            "{n}: {e:?}"
        );
    }
    let text = String::from_utf8(bytes).unwrap();
    let magic = text.replacen("polc-bundle", "polc-bundel", 1);
    assert!(kind(magic.as_bytes(), None)
        .to_string()
        .starts_with("not a polc bundle"));
    for garbage in [
        &b""[..],
        b"\n",
        b"\x00\xff\xfe garbage\n\n",
        b"import \"std/hris\"\npolicy \"P\" {}\n",
        b"{\"users\": []}\n{}\n",
        b"[1,2,3]\n",
    ] {
        assert!(
            matches!(kind(garbage, None), ErrorKind::NotABundle(_)),
            "{garbage:?}"
        );
    }
    // An edited header (an unknown field, a malformed digest) is a header error.
    let extra = text.replacen("\"key_id\":null", "\"key_id\":null,\"x\":1", 1);
    assert!(matches!(kind(extra.as_bytes(), None), ErrorKind::Header(_)));
    let id_only = text.replacen("\"key_id\":null", "\"key_id\":\"0123456789abcdef\"", 1);
    let bad_sig = text.replacen("\"signature\":null", "\"signature\":\"ed25519:00\"", 1);
    let md5 = text.replacen("sha256:", "md5:", 1);
    for edited in [md5, id_only, bad_sig] {
        assert!(matches!(
            kind(edited.as_bytes(), None),
            ErrorKind::Header(_)
        ));
    }
}

/// Content with a valid digest that is not a valid bundle (another producer's bug).
#[test]
fn bad_content_with_a_matching_digest_is_refused() {
    let mut v = serde_json::to_value(crate::bundle::from_ir(&every_variant())).unwrap();
    v["policies"][0]["inherits"][0] = 99.into();
    for content in [
        serde_json::to_vec(&v).unwrap(),
        b"{\"schema\":null}".to_vec(),
        b"[".repeat(100_000),
        b"not json".to_vec(),
    ] {
        let text = String::from_utf8(bytes_of(&ir::Bundle::default(), None)).unwrap();
        let header = text.lines().next().unwrap();
        let digest = crate::bundle::file::digest_of(&content);
        let old = &header[header.find("sha256:").unwrap()..][..71];
        let mut out = header.replacen(old, &digest, 1).into_bytes();
        out.push(b'\n');
        out.extend(&content);
        out.push(b'\n');
        assert!(matches!(kind(&out, None), ErrorKind::Content(_)));
    }
}

#[test]
fn signed_bundles_verify_and_the_check_is_fail_closed() {
    let (k1, k2) = (key(1), key(2));
    let b = seed();
    let signed = bytes_of(&b, Some(&k1));
    let (h, back) = decode(&signed, Some(&k1.public())).unwrap();
    assert_eq!(back, b);
    assert_eq!(h.key_id.as_deref(), Some(k1.public().id().as_str()));
    assert!(h.signature.as_deref().unwrap().starts_with("ed25519:"));
    // Without a key a signed bundle loads (unverified).
    assert!(decode(&signed, None).is_ok());
    // Unsigned with a key: refused.
    let unsigned = bytes_of(&b, None);
    assert_eq!(kind(&unsigned, Some(&k1.public())), ErrorKind::Unsigned);
    // Another key: refused.
    assert!(matches!(
        kind(&signed, Some(&k2.public())),
        ErrorKind::WrongKey { .. }
    ));
    // The key id rewritten to the verifier's: the signature still fails.
    let text = String::from_utf8(signed.clone()).unwrap();
    let forged = text.replacen(&k1.public().id(), &k2.public().id(), 1);
    assert_eq!(
        kind(forged.as_bytes(), Some(&k2.public())),
        ErrorKind::BadSignature
    );
    // A header field changed after signing.
    let renamed = text.replacen("b/c.pol", "evil.pol", 1);
    assert_eq!(
        kind(renamed.as_bytes(), Some(&k1.public())),
        ErrorKind::BadSignature
    );
    // The content changed: the digest no longer matches.
    let mut t = signed.clone();
    let i = content_start(&t) + 10;
    t[i] ^= 0x20;
    assert_eq!(kind(&t, Some(&k1.public())), ErrorKind::Digest);
    // Content and digest both replaced: the signature no longer matches.
    let other = bytes_of(&every_variant(), None);
    let other_text = String::from_utf8(other).unwrap();
    let (other_h, other_c) = other_text.split_once('\n').unwrap();
    let dg = |h: &str| h[h.find("sha256:").unwrap()..][..71].to_string();
    let (head, _) = text.split_once('\n').unwrap();
    let swapped = format!("{}\n{other_c}", head.replacen(&dg(head), &dg(other_h), 1));
    assert_eq!(
        kind(swapped.as_bytes(), Some(&k1.public())),
        ErrorKind::BadSignature
    );
    // A signature bit flipped.
    let sig_at = text.find("ed25519:").unwrap() + 20;
    let mut t = signed.clone();
    t[sig_at] = if t[sig_at] == b'0' { b'1' } else { b'0' };
    assert_eq!(kind(&t, Some(&k1.public())), ErrorKind::BadSignature);
}

#[test]
fn key_files_round_trip_and_malformed_ones_are_refused() {
    let k = key(7);
    let sk = SecretKey::from_file_text(&k.to_file_text()).unwrap();
    assert_eq!(sk.public(), k.public());
    assert_eq!(
        PublicKey::from_file_text(&k.public().to_file_text()),
        Ok(k.public())
    );
    // Bare hex is read too.
    let bare = hex::encode([7u8; 32]);
    assert_eq!(
        SecretKey::from_file_text(&bare).unwrap().public(),
        k.public()
    );
    for bad in [
        "",
        "abc",
        &"zz".repeat(32),
        &"ab".repeat(33),
        &format!("{bare}\n{bare}"),
    ] {
        assert!(SecretKey::from_file_text(bad).is_err(), "{bad:?}");
        assert!(PublicKey::from_file_text(bad).is_err(), "{bad:?}");
    }
    let e = SecretKey::from_file_text(&k.public().to_file_text())
        .err()
        .unwrap();
    assert_eq!(e, KeyProblem::PublicNotSecret);
    assert!(e.to_string().contains("a public key"), "{e}");
    let e = PublicKey::from_file_text(&k.to_file_text()).unwrap_err();
    assert_eq!(e, KeyProblem::SecretNotPublic);
    assert!(e.to_string().contains("a secret key"), "{e}");
}

#[test]
fn keygen_files_and_load_with_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let kp = dir.path().join("k");
    let k = SecretKey::generate().unwrap();
    let pub_path = crate::bundle::keys::write_pair(&k, &kp, false).unwrap();
    assert_eq!(pub_path, dir.path().join("k.pub"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kp).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        crate::bundle::keys::write_pair(&k, &kp, false).is_err(),
        "no overwrite"
    );
    let bf = dir.path().join("b.polb");
    let b = seed();
    std::fs::write(&bf, bytes_of(&b, Some(&SecretKey::read(&kp).unwrap()))).unwrap();
    assert_eq!(load(&bf, Some(&pub_path)).unwrap().1, b);
    // A malformed key file is an error naming the key file.
    let badk = dir.path().join("bad.pub");
    std::fs::write(&badk, "hello\n").unwrap();
    let e = load(&bf, Some(&badk)).unwrap_err();
    assert_eq!(e.file.as_deref(), Some(badk.as_path()));
    assert!(e.to_string().contains("not a polc key file"), "{e}");
    let e = load(&dir.path().join("missing.polb"), None).unwrap_err();
    assert!(e.to_string().contains("missing.polb: cannot read"), "{e}");
    let arc = crate::bundle::load_for_eval(&bf, Some(&pub_path)).unwrap();
    assert_eq!(*arc, b);
}

/// The deepest expressions the checker accepts nest far less than [`MAX_DEPTH`]; a bundle
/// nested that deep still reads back (on a thread with the stack `polc` runs on).
#[test]
fn deep_expressions_round_trip() {
    let run = || {
        let mut e = ir::Expr::Attr("a".into());
        for _ in 0..(crate::bundle::file::MAX_DEPTH - 10) {
            e = ir::Expr::Not(Box::new(e));
        }
        let b = ir::Bundle {
            requires: vec![e],
            ..Default::default()
        };
        let bytes = bytes_of(&b, None);
        decode(&bytes, None).map(|(_, back)| back == b)
    };
    let ok = std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(ok, Ok(true));
}

/// Deep content is read safely on a small-stack thread (a test thread's): `decode` moves
/// deep parsing onto a thread of its own.
#[test]
fn deep_content_reads_on_any_thread() {
    let depth = crate::bundle::file::MAX_DEPTH - 20;
    let expr = format!(
        "{}{{\"attr\":\"a\"}}{}",
        "{\"not\":".repeat(depth),
        "}".repeat(depth)
    );
    let content = format!(
        "{{\"schema\":null,\"systems\":[],\"requires\":[{expr}],\"policies\":[],\"exceptions\":[],\"conflicts\":[],\"tests\":[]}}"
    );
    let header = format!(
        "{{\"magic\":\"polc-bundle\",\"format_version\":1,\"compiler_version\":\"0\",\"created_from\":[],\"digest\":\"{}\",\"signature\":null,\"key_id\":null}}",
        crate::bundle::file::digest_of(content.as_bytes())
    );
    let bytes = format!("{header}\n{content}\n");
    let (_, b) = decode(bytes.as_bytes(), None).unwrap();
    assert_eq!(b.requires.len(), 1);
    // Dropping a 20,000-deep expression recurses too: not on this small stack.
    std::mem::forget(b);
    let deeper = bytes.replacen("{\"not\":", "{\"not\":{\"not\":", 1);
    assert!(matches!(kind(deeper.as_bytes(), None), ErrorKind::Digest));
    let too_deep = content
        .replacen("{\"not\":", &"{\"not\":".repeat(30), 1)
        .replacen("}", &"}".repeat(30), 1);
    let header2 = header.replace(
        &crate::bundle::file::digest_of(content.as_bytes()),
        &crate::bundle::file::digest_of(too_deep.as_bytes()),
    );
    let e = kind(format!("{header2}\n{too_deep}\n").as_bytes(), None);
    assert!(
        e.to_string()
            .contains("more than the 20000 this polc reads"),
        "{e}"
    );
}
