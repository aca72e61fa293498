//! Loading a compiled bundle from arbitrary bytes: never panics. The bytes are tried as a
//! whole file, and as the content of a bundle whose header and digest match, so that the
//! fuzzer reaches the schema and the index validation past the digest check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = polc::bundle::read(data, None);
    let header = format!(
        "{{\"magic\":\"polc-bundle\",\"format_version\":1,\"compiler_version\":\"0\",\"created_from\":[],\"digest\":\"{}\",\"signature\":null,\"key_id\":null}}\n",
        polc::bundle::file::digest_of(data)
    );
    let mut file = header.into_bytes();
    file.extend_from_slice(data);
    file.push(b'\n');
    let _ = polc::bundle::read(&file, None);
});
