//! `duibiao sample`: write the generated exports and report what was written.

use std::time::Instant;

use anyhow::Context as _;

use crate::commands::cli::SampleArgs;
use crate::commands::terminal::line;
use crate::sample::{SampleOptions, generate};

pub fn run(args: &SampleArgs) -> anyhow::Result<()> {
    let options = SampleOptions::new(args.seed, args.scale, args.layout);
    let started = Instant::now();
    let generated = generate(&args.out, &options).with_context(|| format!("writing the sample into {}", args.out.display()))?;
    line(format_args!(
        "已生成 {} 个文件（{} 个供电所，{:.1} MB），用时 {:.1} 秒 · wrote {} files ({} stations, {:.1} MB) in {:.1} s to {}",
        generated.files,
        generated.stations,
        generated.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        generated.files,
        generated.stations,
        generated.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        args.out.display()
    ))?;
    Ok(())
}
