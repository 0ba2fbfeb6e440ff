//! One table-driven fault case: the base workspace, the damage, the commands to run and what
//! each must do. `verify` runs it and applies the checks every case shares (see harness.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::fixture;
use super::harness::{self, Outcome, Workspace, contains_any, names_line, tree};

/// A command of a case and what it must do.
pub struct Step {
    pub args: Vec<String>,
    pub exit: Vec<i32>,
    /// Each entry: one of these fragments must appear in stdout or stderr.
    pub says: Vec<Vec<String>>,
    /// (file, line): the output must name that line of that file.
    pub lines: Vec<(String, u64)>,
    /// Checks on the outcome whatever the exit code.
    pub after: Vec<Custom>,
    /// Steps added together (`both`) share their expectations.
    group: usize,
}

type Custom = Box<dyn Fn(&Workspace, &Outcome)>;

pub struct Case {
    files: Vec<(String, Vec<u8>)>,
    /// Files that are not inputs (left-overs of earlier runs): written, not guarded.
    strays: Vec<(String, Vec<u8>)>,
    remove: Vec<String>,
    links: Vec<(String, String)>,
    pipeline: String,
    prior: bool,
    steps: Vec<Step>,
    /// The case's output folder, relative to the workspace.
    out: String,
    counts: Vec<(String, String, u64)>,
    rejects: Vec<(String, i64, String)>,
    periods_absent: Vec<String>,
    periods_present: Vec<String>,
    custom: Vec<Custom>,
    conserve: bool,
}

impl Case {
    /// The base workspace, unchanged: stations, fee and orders, the base pipeline.
    pub fn new() -> Case {
        Case {
            files: Vec::new(),
            strays: Vec::new(),
            remove: Vec::new(),
            links: Vec::new(),
            pipeline: fixture::pipeline(),
            prior: false,
            steps: Vec::new(),
            out: "out".into(),
            counts: Vec::new(),
            rejects: Vec::new(),
            periods_absent: Vec::new(),
            periods_present: Vec::new(),
            custom: Vec::new(),
            conserve: true,
        }
    }

    /// Writes (or replaces) an input file.
    pub fn file(mut self, rel: &str, bytes: impl Into<Vec<u8>>) -> Case {
        self.files.push((rel.to_string(), bytes.into()));
        self
    }

    /// Writes a file that is not an input (e.g. what a killed run left behind).
    pub fn stray(mut self, rel: &str, bytes: impl Into<Vec<u8>>) -> Case {
        self.strays.push((rel.to_string(), bytes.into()));
        self
    }

    pub fn fee(self, bytes: impl Into<Vec<u8>>) -> Case {
        self.file("data/fee.csv", bytes)
    }

    pub fn fee_lines(self, edit: impl FnOnce(&mut Vec<String>)) -> Case {
        let mut lines = fixture::fee_lines();
        edit(&mut lines);
        self.fee(fixture::lf(&lines))
    }

    pub fn orders_lines(self, edit: impl FnOnce(&mut Vec<String>)) -> Case {
        let mut lines = fixture::orders_lines();
        edit(&mut lines);
        self.file("data/orders.csv", fixture::lf(&lines))
    }

    pub fn remove(mut self, rel: &str) -> Case {
        self.remove.push(rel.to_string());
        self
    }

    /// A symbolic link at `rel` pointing to `target` (as written).
    pub fn link(mut self, rel: &str, target: &str) -> Case {
        self.links.push((rel.to_string(), target.to_string()));
        self
    }

    pub fn pipeline(mut self, text: impl Into<String>) -> Case {
        self.pipeline = text.into();
        self
    }

    pub fn edit(mut self, f: impl FnOnce(&str) -> String) -> Case {
        self.pipeline = f(&self.pipeline);
        self
    }

    /// Replaces text in the pipeline (which must be there).
    pub fn replace(self, from: &str, to: &str) -> Case {
        assert!(self.pipeline.contains(from), "pipeline has no {from:?}");
        let text = self.pipeline.replacen(from, to, 1);
        self.pipeline(text)
    }

    pub fn output_dir(self, dir: &str) -> Case {
        self.replace("dir = \"../out\"", &format!("dir = {dir}"))
    }

    /// Runs the unchanged base workspace first, so a previous output exists.
    pub fn prior(mut self) -> Case {
        self.prior = true;
        self
    }

    /// The output folder this case's pipeline writes (relative to the workspace).
    pub fn out(mut self, rel: &str) -> Case {
        self.out = rel.to_string();
        self
    }

    pub fn step(mut self, args: &[&str], exit: &[i32]) -> Case {
        let group = self.steps.len();
        self.steps.push(Step { args: args.iter().map(|a| a.to_string()).collect(), exit: exit.to_vec(), says: Vec::new(), lines: Vec::new(), after: Vec::new(), group });
        self
    }

    /// `duibiao run pipelines/p.toml --quiet`, exiting with one of `exit`.
    pub fn run(self, exit: &[i32]) -> Case {
        self.step(&["run", "pipelines/p.toml", "--quiet"], exit)
    }

    pub fn check(self, exit: &[i32]) -> Case {
        self.step(&["check", "pipelines/p.toml"], exit)
    }

    /// `run` and then `check`, both exiting with one of `exit`, both saying the same things
    /// (the following `says` / `names` apply to both). The run comes first so that a run that
    /// damages its inputs is caught as such, not only as a `check` that should have refused.
    pub fn both(self, exit: &[i32]) -> Case {
        let mut case = self.run(exit).check(exit);
        let n = case.steps.len();
        case.steps[n - 1].group = case.steps[n - 2].group;
        case
    }

    fn last_steps(&mut self) -> Vec<&mut Step> {
        let group = self.steps.last().expect("a step first").group;
        self.steps.iter_mut().filter(|s| s.group == group).collect()
    }

    /// One of these fragments must appear in the output of the last step (both, after `both`).
    pub fn says(mut self, alternatives: &[&str]) -> Case {
        for s in self.last_steps() {
            s.says.push(alternatives.iter().map(|a| a.to_string()).collect());
        }
        self
    }

    /// The output of the last step names `line` of `file`.
    pub fn names(mut self, file: &str, line: u64) -> Case {
        for s in self.last_steps() {
            s.lines.push((file.to_string(), line));
        }
        self
    }

    /// The output of the last step names one of `lines` of `file` (an example line).
    pub fn names_one_of(self, file: &str, lines: &[u64]) -> Case {
        let (file, lines) = (file.to_string(), lines.to_vec());
        self.after(move |_, o| {
            let text = o.text();
            assert!(lines.iter().any(|l| names_line(&text, &file, *l)), "MESSAGE: expected {file} with one of lines {lines:?}\n{}", o.describe());
        })
    }

    /// A check on the outcome of the last step (both, after `both`), whatever its exit code.
    pub fn after(mut self, f: impl Fn(&Workspace, &Outcome) + Clone + 'static) -> Case {
        for s in self.last_steps() {
            s.after.push(Box::new(f.clone()));
        }
        self
    }

    /// After a failure of the last step, one of these fragments must appear.
    pub fn says_on_failure(self, alternatives: &[&str]) -> Case {
        let alts: Vec<String> = alternatives.iter().map(|a| a.to_string()).collect();
        self.after(move |_, o| {
            if o.code != Some(0) {
                let a: Vec<&str> = alts.iter().map(String::as_str).collect();
                assert!(contains_any(&o.text(), &a), "MESSAGE: expected one of {a:?}\n{}", o.describe());
            }
        })
    }

    /// After an accepted run: the manifest count `field` of `source`.
    pub fn count(mut self, source: &str, field: &str, value: u64) -> Case {
        self.counts.push((source.into(), field.into(), value));
        self
    }

    /// After an accepted run: quarantine holds `line` of a file ending in `file` as `kind`.
    pub fn quarantined(mut self, file: &str, line: i64, kind: &str) -> Case {
        self.rejects.push((file.into(), line, kind.into()));
        self
    }

    pub fn no_period(mut self, period: &str) -> Case {
        self.periods_absent.push(period.into());
        self
    }

    pub fn has_period(mut self, period: &str) -> Case {
        self.periods_present.push(period.into());
        self
    }

    /// A further check after an accepted run.
    pub fn then(mut self, f: impl Fn(&Workspace, &Outcome) + 'static) -> Case {
        self.custom.push(Box::new(f));
        self
    }

    /// Header line of each source (title lines + header), from the pipeline text.
    fn header_rows(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        if let Ok(value) = self.pipeline.parse::<toml::Table>() {
            if let Some(sources) = value.get("sources").and_then(|s| s.as_table()) {
                for (name, s) in sources {
                    out.insert(name.clone(), s.get("header_row").and_then(|h| h.as_integer()).unwrap_or(1) as u64);
                }
            }
        }
        out
    }

    /// Sets up the workspace and runs every step with its checks.
    pub fn verify(self) {
        let mut ws = Workspace::new();
        ws.write("data/stations.csv", &fixture::lf(&fixture::stations_lines()));
        ws.write("data/fee.csv", &fixture::lf(&fixture::fee_lines()));
        ws.write("data/orders.csv", &fixture::lf(&fixture::orders_lines()));
        ws.write("pipelines/p.toml", fixture::pipeline().as_bytes());
        if self.prior {
            fixture::previous_output(&ws);
        }
        let mut prior_out = self.prior.then(|| tree(&ws.path("out")));
        for rel in &self.remove {
            ws.remove(rel);
        }
        for (rel, bytes) in &self.files {
            ws.write(rel, bytes);
        }
        for (rel, bytes) in &self.strays {
            let p = ws.path(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
        }
        for (rel, target) in &self.links {
            let p = ws.path(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, &p).unwrap();
        }
        let pipeline = self.pipeline.replace("{ROOT}", &ws.root.to_string_lossy());
        ws.write("pipelines/p.toml", pipeline.as_bytes());
        let header_rows = self.header_rows();
        let out_dir = ws.path(&self.out);
        for step in &self.steps {
            let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
            let is_run = args.first() == Some(&"run");
            let before_all = tree(&ws.root);
            let before_out = tree(&out_dir);
            let o = ws.run(&args);
            let context = format!("duibiao {}", args.join(" "));
            // The gravest failures first: lost inputs, a lost previous output, a writing check.
            ws.assert_inputs_untouched(&context);
            if let Some(prior) = &prior_out {
                assert!(ws.path("out").join("manifest.json").exists(), "UNSAFE OUTPUT: out/ is missing after {context}\n{}", o.describe());
                if o.code != Some(0) || !is_run || self.out != "out" {
                    assert!(tree(&ws.path("out")) == *prior, "UNSAFE OUTPUT: the previous out/ changed after {context}\n{}", o.describe());
                }
            }
            if is_run && o.code == Some(0) && self.out == "out" {
                // This run's output is the previous output of the next step.
                prior_out = prior_out.map(|_| tree(&ws.path("out")));
            }
            if !is_run {
                let after = tree(&ws.root);
                assert!(after == before_all, "UNSAFE OUTPUT: {context} wrote files: {:?}", diff(&before_all, &after));
            }
            assert!(o.code.is_some_and(|c| step.exit.contains(&c)), "EXIT: expected {:?}\n{}", step.exit, o.describe());
            let text = o.text();
            for alternatives in &step.says {
                let alts: Vec<&str> = alternatives.iter().map(String::as_str).collect();
                assert!(contains_any(&text, &alts), "MESSAGE: expected one of {alts:?}\n{}", o.describe());
            }
            for (file, line) in &step.lines {
                assert!(names_line(&text, file, *line), "MESSAGE: expected {file} line {line} to be named\n{}", o.describe());
            }
            for f in &step.after {
                f(&ws, &o);
            }
            if !is_run {
                continue;
            }
            assert_no_staging_left(&out_dir, &context);
            if o.code != Some(0) {
                assert!(tree(&out_dir) == before_out, "UNSAFE OUTPUT: {} changed after a failed {context}\n{}", self.out, o.describe());
                continue;
            }
            if self.conserve {
                harness::assert_conserved(&ws, &out_dir, &header_rows);
            }
            let m = harness::manifest(&out_dir);
            for (source, field, value) in &self.counts {
                let s = harness::source(&m, source);
                assert_eq!(s[field.as_str()].as_u64(), Some(*value), "COUNT: {source}.{field}\n{s:#}");
            }
            if !self.rejects.is_empty() {
                let rows = harness::rejects(&out_dir);
                for (file, line, kind) in &self.rejects {
                    assert!(
                        rows.iter().any(|r| r.file.ends_with(file.as_str()) && r.row == *line && &r.kind == kind && !r.reason.trim().is_empty()),
                        "QUARANTINE: {file} line {line} is not in quarantine as {kind} with a reason: {rows:#?}"
                    );
                }
            }
            let touched: Vec<String> = m["periods_available"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
            for p in &self.periods_absent {
                assert!(!touched.contains(p), "IMPLAUSIBLE PERIOD: {p} in {touched:?}");
            }
            for p in &self.periods_present {
                assert!(touched.contains(p), "period {p} missing from {touched:?}");
            }
            for f in &self.custom {
                f(&ws, &o);
            }
        }
    }
}

/// No staging folder of a finished run is left beside the output.
fn assert_no_staging_left(out: &Path, context: &str) {
    let parent: PathBuf = out.parent().unwrap().to_path_buf();
    let name = out.file_name().unwrap().to_string_lossy().into_owned();
    if let Ok(entries) = std::fs::read_dir(&parent) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.starts_with(&format!(".{name}.tmp-")), "{n} left behind after {context}");
        }
    }
}

fn diff(a: &BTreeMap<String, u128>, b: &BTreeMap<String, u128>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in b {
        if a.get(k) != Some(v) {
            out.push(format!("+{k}"));
        }
    }
    for k in a.keys() {
        if !b.contains_key(k) {
            out.push(format!("-{k}"));
        }
    }
    out
}
