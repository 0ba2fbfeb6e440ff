//! The `duibiao` binary: parse the command line, run, exit with the documented code.

// Ingest and the panel allocate and free many small strings; mimalloc does that markedly faster
// than the system allocator on this workload (see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    duibiao::commands::main()
}
