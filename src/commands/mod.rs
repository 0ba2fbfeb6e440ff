//! The command line: its flags (`cli`), one module per subcommand, the exit codes (`exit`) and
//! the one writer to the terminal (`terminal`); `run` dispatches.
//!
//! Layer `commands` (ARCHITECTURE.md): the top; may import everything, nothing imports it.

pub(crate) mod cli;
pub(crate) mod exit;
pub(crate) mod terminal;

mod check;
mod columns;
mod ingest;
mod init;
mod inspect;
mod run;
mod sample;
pub mod views;

use clap::Parser;

use crate::commands::cli::{Cli, Command};
use crate::commands::exit::Exit;

/// The program: parses the command line, runs the command, prints an error with its causes, and
/// returns the documented exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => Exit::Ok.into(),
        Err(error) => {
            terminal::error_line(format_args!("错误 error: {error:#}"));
            Exit::of(&error).into()
        }
    }
}

/// Runs the parsed command line.
fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Sample(args) => sample::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Ingest(args) => ingest::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Views(args) => views::run(&args),
        Command::Init(args) => init::run(&args),
    }
}
