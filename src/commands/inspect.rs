//! `duibiao inspect`: describe a Parquet file.

use crate::commands::cli::InspectArgs;
use crate::commands::terminal::line;

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let inspection = crate::output::inspect::inspect(&args.file)?;
    if args.json {
        line(serde_json::to_string_pretty(&inspection)?)?;
    } else {
        line(crate::output::inspect::to_text(&inspection))?;
    }
    Ok(())
}
