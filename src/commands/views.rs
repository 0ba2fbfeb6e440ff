//! `duibiao views OUT_DIR`: (re)write the folder's analysis.duckdb with absolute paths, e.g.
//! after the folder was moved or copied; and the same step at the end of `duibiao run`.

use std::path::Path;

use crate::commands::cli::ViewsArgs;
use crate::commands::exit::UsageError;
use crate::output::bi::{self, Choice};

pub fn run(args: &ViewsArgs) -> anyhow::Result<()> {
    let out = &args.out_dir;
    if !out.join(crate::store::layout::VIEWS).is_file() {
        return Err(UsageError(format!(
            "{}: 没有 views.sql，不是 duibiao 的输出目录 · no views.sql here: not the output folder of a duibiao run",
            out.display()
        ))
        .into());
    }
    let engine = match bi::find(&Choice::from_flag(args.duckdb.as_deref()))? {
        Some(engine) => engine,
        None if args.duckdb.as_deref().is_some_and(|p| p.as_os_str() == "none") => {
            return Err(UsageError("--duckdb none: `duibiao views` has nothing to do without DuckDB".into()).into());
        }
        None => anyhow::bail!("{}", bi::install_hint(out)),
    };
    let database = bi::write_database(out, &engine)?;
    super::terminal::line(written(&database, &engine))?;
    Ok(())
}

fn written(database: &Path, engine: &bi::Engine) -> String {
    format!(
        "BI 数据库 database: {}（视图使用绝对路径；存储版本 {}，DuckDB 1.0 及以上版本可打开 · views at absolute paths; storage {}, opened by DuckDB 1.0 and later; written with {})",
        database.display(),
        bi::STORAGE_VERSION,
        bi::STORAGE_VERSION,
        engine.describe()
    )
}

/// After a run has published `out`: writes analysis.duckdb when a DuckDB is at hand. A DuckDB the
/// user named must work (error); without one, or when a found one fails, the run stands and a
/// note on standard error says what to do. Returns the line for the closing summary.
pub(crate) fn after_run(out: &Path, flag: Option<&Path>) -> anyhow::Result<Option<String>> {
    let choice = Choice::from_flag(flag);
    let named = matches!(choice, Choice::Named(_));
    let engine = match bi::find(&choice) {
        Ok(Some(engine)) => engine,
        Ok(None) if matches!(choice, Choice::Off) => return Ok(None),
        Ok(None) => {
            eprintln!("注意 note: {}", bi::install_hint(out));
            return Ok(None);
        }
        Err(e) => return Err(not_written(e)),
    };
    match bi::write_database(out, &engine) {
        Ok(database) => Ok(Some(written(&database, &engine))),
        Err(e) if named => Err(not_written(e)),
        Err(e) => {
            eprintln!(
                "注意 note: {} 未生成 · {} not written: {}\n  views.sql 可用 · views.sql is there; fix the cause and run: duibiao views {}",
                bi::DATABASE,
                bi::DATABASE,
                crate::base::error_chain(&e),
                out.display()
            );
            Ok(None)
        }
    }
}

/// A run's output stands but its database does not: the BI error with that said before it.
fn not_written(e: bi::BiError) -> anyhow::Error {
    anyhow::Error::new(e).context(format!("输出已发布，但 {} 未生成 · output published, but {} not written", bi::DATABASE, bi::DATABASE))
}
