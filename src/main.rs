//! The `duibiao` binary: parse the command line, run, exit with the documented code.

use clap::Parser;

// Ingest and the panel allocate and free many small strings; mimalloc does that markedly faster
// than the system allocator on this workload (see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = duibiao::commands::cli::Cli::parse();
    match duibiao::commands::run(cli) {
        Ok(()) => duibiao::commands::exit::Exit::Ok.into(),
        Err(error) => {
            duibiao::commands::terminal::error_line(format_args!("错误 error: {error:#}"));
            duibiao::commands::exit::Exit::of(&error).into()
        }
    }
}
