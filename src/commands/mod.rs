//! One module per subcommand; `run` dispatches.

mod check;
mod inspect;
mod run;
mod sample;
pub mod views;

use crate::cli::{Cli, Command};

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
