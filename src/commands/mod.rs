//! The command line: its flags (`cli`), one module per subcommand, and the exit codes (`exit`);
//! `run` dispatches.
//!
//! Layer `commands` (ARCHITECTURE.md): the top; may import everything, nothing imports it.

pub mod cli;
pub mod exit;

mod check;
mod columns;
mod inspect;
mod run;
mod sample;
pub mod views;

use crate::commands::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Sample(args) => sample::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Views(args) => views::run(&args),
    }
}
