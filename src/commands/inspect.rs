//! `duibiao inspect`: describe a Parquet file.

use crate::commands::cli::InspectArgs;

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let inspection = crate::output::inspect::inspect(&args.file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        println!("{}", crate::output::inspect::to_text(&inspection));
    }
    Ok(())
}
