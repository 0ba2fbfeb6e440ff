//! `duibiao inspect`: describe a Parquet file.

use crate::cli::InspectArgs;

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let inspection = crate::inspect::inspect(&args.file).map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        println!("{}", crate::inspect::to_text(&inspection));
    }
    Ok(())
}
