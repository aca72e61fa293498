//! The `polc` binary: parses the command line and runs it on a thread with a large stack,
//! so that no input, however deeply nested, can overflow it.

fn main() {
    let code = std::thread::Builder::new()
        .name("polc".into())
        .stack_size(256 * 1024 * 1024)
        .spawn(polc::cli::main)
        .expect("cannot start the main thread")
        .join()
        .unwrap_or(101);
    std::process::exit(code);
}
