//! The command line: its flags (`cli`), one module per subcommand, the exit codes (`exit`) and
//! the one writer to the terminal (`terminal`); `run` dispatches.
//!
//! Layer `commands` (ARCHITECTURE.md): the top; may import everything, nothing imports it.

pub mod cli;
pub mod exit;
pub mod terminal;

mod check;
mod inspect;
mod run;
mod sample;

use crate::commands::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Sample(args) => sample::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Inspect(args) => inspect::run(&args),
    }
}
