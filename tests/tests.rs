//! All integration tests in one binary (one link step instead of one per file).

mod testenv;

mod test_sample;
