//! Entry point: everything lives in the library; see `cli.rs`.
#![forbid(unsafe_code)]
// The middleware stack is one nested type; computing the layout of its request future needs more
// than the default 128 levels once the server boxes it (http/server.rs).
#![recursion_limit = "256"]

use std::process::ExitCode;
use std::time::Duration;

/// mimalloc instead of glibc's malloc: an open stream holds hyper's two 8 KiB connection
/// buffers of which it writes a few hundred bytes; mimalloc leaves their untouched pages
/// unbacked and returns freed pages to the OS, where glibc's arenas keep them resident.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stack of each runtime thread.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    study_mode_api::bootstrap::install_tls_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // A request's future nests the whole middleware stack; a debug build's poll frames are
        // several times a release build's and outgrow tokio's default 2 MiB. Untouched stack
        // pages cost address space only.
        .thread_stack_size(WORKER_STACK_BYTES)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(study_mode_api::cli::run());
    // Everything that matters was drained and closed inside `run`; idle blocking workers
    // (DNS, file I/O) must not hold the exit up for their keep-alive second.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}
