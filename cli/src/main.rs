//! The `polc` binary: parses the command line and runs it on a thread with a large stack,
//! so that no input, however deeply nested, can overflow it.

fn main() {
    // Writing to a closed pipe (`polc eval … | head`) ends the process quietly, as command-line
    // tools do, instead of panicking on the write error.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let code = std::thread::Builder::new()
        .name("polc".into())
        .stack_size(256 * 1024 * 1024)
        .spawn(polc_cli::main)
        .expect("cannot start the main thread")
        .join()
        .unwrap_or(101);
    std::process::exit(code);
}
