use clap::Parser;

// The service allocates and frees many small buffers per request (forms, rows, pages) on
// several threads; glibc's allocator spent about a seventh of a submission's CPU in malloc
// and free. mimalloc halves that (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match trivsel::cli::run(trivsel::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
