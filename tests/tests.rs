//! All integration tests in one binary (one link step instead of one per file).

mod faults;
mod testenv;

mod test_analysis;
mod test_architecture;
mod test_check;
mod test_faults;
mod test_identity;
mod test_ingest;
mod test_init;
mod test_input_guards;
mod test_other_region;
mod test_output_folder;
mod test_outputs;
mod test_panel;
mod test_publish;
mod test_region_spec;
mod test_sample;
mod test_shards;
mod test_spark;
mod test_terminal;
