//! The fault-injection suite's machinery: the small synthetic workspace (`fixture`), running the
//! binary with a time limit and the shared checks (`harness`), and table-driven cases (`case`).

pub mod case;
pub mod fixture;
pub mod harness;
