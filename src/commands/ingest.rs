//! `duibiao ingest`: ingest one shard of a pipeline (sources × periods) for `run --shards`.

use crate::commands::cli::IngestArgs;
use crate::commands::terminal::line;
use crate::job::shard::{ShardSpec, ingest_shard};

pub fn run(args: &IngestArgs) -> anyhow::Result<()> {
    let spec = ShardSpec { name: args.shard.clone(), sources: args.sources.clone(), periods: args.periods.clone() };
    let dir = ingest_shard(&args.pipeline, &spec, &args.into, args.quiet)?;
    line(format_args!("分片 shard: {}", dir.display()))?;
    Ok(())
}
