//! The one way commands write to the terminal. Standard output may be closed early by the
//! reader (`duibiao check P | head -1`, `duibiao run P | true`): that is a normal end, not an
//! error, so from then on output is dropped quietly and the command finishes with the exit code
//! it would have had. Any other write error (a full disk behind `> file`) is an error that names
//! standard output. Messages on standard error never fail a command.

use std::fmt::Display;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the reader of standard output has gone.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line (or several, joined by newlines in `text`) to standard output.
pub fn line(text: impl Display) -> anyhow::Result<()> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output · 无法写入标准输出")),
    }
}

/// Writes one line to standard error, ignoring a closed or failing stderr.
pub(crate) fn error_line(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
