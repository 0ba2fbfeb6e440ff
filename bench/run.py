#!/usr/bin/env python3
"""Benchmark: duibiao's whole quarterly job against the same job done in DuckDB and in Polars, on
the same generated exports, and per source, duibiao's ingest against the plain CSV → Parquet step
of both engines.

    python3 bench/run.py [--scale province|kashgar|national] [--workdir DIR] [--skip-generate]
                         [--skip-build] [--binary PATH] [--threads N] [--runs N]
                         [--reference-sources auto|none|NAME,...]

Steps: (a) a venv with duckdb, pyarrow, openpyxl, polars and fastexcel (bench/requirements.txt);
(b) `cargo build --release`; (c) `duibiao sample --scale SCALE` into WORK/data unless it is there;
(d) WORK/pipeline.toml, the Kashgar pipeline pointed at WORK/data and WORK/out; (e) the raw read
speed of the inputs (`cat`, warm page cache); (f) `duibiao run`, bench/duckdb_job.py and
bench/polars_job.py, each a child process timed by wall clock with its peak RSS from wait4;
(g) per source, in one loop: duibiao on a one-source copy of the pipeline, and bench/plain.py
in DuckDB and in Polars; (h) a Markdown table on stdout, and everything as WORK/bench.json. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
HOME = os.path.expanduser("~")
VENV = os.environ.get("DUIBIAO_VENV", os.path.join(HOME, ".cache", "duibiao-venv"))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(HOME, ".cache", "duibiao-target"))
MIB = 1024 * 1024


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ── (a) the venv of the engine jobs ───────────────────────────────────────────────────────


def venv_python() -> str:
    python = os.path.join(VENV, "bin", "python")
    probe = [python, "-c", "import duckdb, pyarrow, openpyxl, polars, fastexcel"]
    if os.path.exists(python) and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    if not os.path.exists(python):
        log(f"creating venv {VENV}")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    log("installing bench/requirements.txt into the venv")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", os.path.join(BENCH, "requirements.txt")], check=True)
    subprocess.run(probe, check=True)
    return python


# ── child processes: wall clock and peak RSS ──────────────────────────────────────────────


def run_measured(cmd: list[str], cwd: str | None = None, env: dict | None = None) -> dict:
    """Runs cmd to completion; wall seconds, peak RSS (ru_maxrss from wait4), exit code, output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return {
            "cmd": cmd,
            "seconds": wall,
            "peak_rss_bytes": usage.ru_maxrss * scale,
            "user_seconds": usage.ru_utime,
            "system_seconds": usage.ru_stime,
            "exit_code": proc.returncode,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }


def checked(result: dict, what: str) -> dict:
    if result["exit_code"] != 0:
        sys.stderr.write(result["stderr"][-4000:])
        raise SystemExit(f"{what} failed with exit code {result['exit_code']}")
    return result


# ── (d) the pipeline over the generated data ──────────────────────────────────────────────


def write_pipeline(work: str) -> str:
    """pipelines/kashgar_quarterly.toml with its exports in WORK/data and its output in WORK/out
    (paths relative to the pipeline file, which sits in WORK)."""
    with open(os.path.join(REPO, "pipelines", "kashgar_quarterly.toml"), encoding="utf-8") as f:
        text = f.read()
    text = text.replace('"../sample_data/', '"data/')
    text, n = re.subn(r'(?ms)^(\[output\]\s*\n(?:[^\[]*?\n)?)dir\s*=\s*"[^"]*"', r'\1dir = "out"', text)
    if n != 1:
        raise SystemExit("could not find [output] dir in pipelines/kashgar_quarterly.toml")
    path = os.path.join(work, "pipeline.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    spec = tomllib.loads(text)
    assert spec["output"]["dir"] == "out"
    assert all(s["path"].startswith("data/") for s in spec["sources"].values()), "a source path outside ../sample_data/"
    return path


def input_files(work: str, pipeline: str) -> list[str]:
    with open(pipeline, "rb") as f:
        spec = tomllib.load(f)
    files: list[str] = []
    for source in spec["sources"].values():
        files += sorted(glob.glob(os.path.join(work, source["path"])))
    return files


def one_source_pipeline(work: str, pipeline: str, source: str) -> str:
    """A copy of WORK/pipeline.toml that holds only `source` and the station master (which every
    pipeline needs), with no aliases, indicators, features or analysis: `duibiao run` on it is
    the ingest of that source alone. Written as WORK/ref_SOURCE.toml, output in WORK/ref/SOURCE/duibiao."""
    with open(pipeline, encoding="utf-8") as f:
        text = f.read()
    stations = tomllib.loads(text)["pipeline"]["stations"]
    keep = {"pipeline", "output", f"sources.{stations}", f"sources.{source}"}
    sections, name, lines = [], None, []
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\[([A-Za-z0-9_.]+)\]\s*(#.*)?$", line)
        if header:
            lead = []  # the comment lines just above a header belong to its section
            while lines and lines[-1].lstrip().startswith("#"):
                lead.insert(0, lines.pop())
            sections.append((name, lines))
            name, lines = header.group(1), lead
        lines.append(line)
    sections.append((name, lines))
    out = []
    for name, lines in sections:
        if name is None or name in keep:
            if name == "pipeline":
                lines = [x for x in lines if not re.match(r"^\s*aliases\s*=", x)]
            if name == "output":
                lines = [re.sub(r'^(\s*dir\s*=\s*)"[^"]*"', rf'\1"ref/{source}/duibiao"', x) for x in lines]
            out += lines
    text = "".join(out)
    spec = tomllib.loads(text)
    assert set(spec["sources"]) == {stations, source} and spec["output"]["dir"] == f"ref/{source}/duibiao", f"one-source pipeline of {source}"
    assert not any(k in spec for k in ("indicators", "features", "analysis", "identity", "attributes")), f"one-source pipeline of {source}"
    path = os.path.join(work, f"ref_{source}.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def source_files(work: str, pipeline: str, source: str) -> list[str]:
    with open(pipeline, "rb") as f:
        spec = tomllib.load(f)
    return sorted(glob.glob(os.path.join(work, spec["sources"][source]["path"])))


def tree_bytes(folder: str) -> tuple[int, int]:
    """Parquet files under folder, and their total size."""
    files = glob.glob(os.path.join(folder, "**", "*.parquet"), recursive=True)
    return len(files), sum(os.path.getsize(f) for f in files)


def cat_all(files: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


# ── (g) the report ────────────────────────────────────────────────────────────────────────


def stage_map(value) -> dict:
    """[[stage, x], ...] or {stage: x} → {stage: x}; anything else → {}."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return {k: v for k, v in value if isinstance(k, str)}
    return {}


def whole_peak(ru_maxrss: int, stage_peaks) -> int:
    """The whole job's peak RSS. Resetting the high-water mark for per-stage figures (clear_refs)
    also resets what the kernel reports as ru_maxrss at exit, so the larger of the two counts."""
    return max([ru_maxrss] + [p for p in stage_peaks if isinstance(p, (int, float))])


def fmt_num(x, digits=2) -> str:
    if x is None:
        return "–"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def duibiao_ingest_seconds(timings: dict) -> tuple[float, list[str]]:
    """duibiao's ingest: every stage between compile and panel (ingest, and the writing of curated
    data and quarantine, which older versions timed as `write`, newer ones as `quarantine`)."""
    parts = [name for name in timings if name not in ("compile", "panel", "correlate", "total")]
    return sum(timings[name] for name in parts), parts


TOOLS = [("duibiao", "duibiao"), ("duckdb", "DuckDB"), ("polars", "Polars")]


def ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}×" if ours is not None and theirs else "–"


def markdown(result: dict) -> str:
    rows_in, mb_in = result["inputs"]["rows"], result["inputs"]["bytes"] / 1e6
    lines = [
        f"## duibiao vs DuckDB vs Polars — scale {result['scale']}",
        "",
        f"{result['inputs']['files']} input files, {mb_in:,.1f} MB, {rows_in:,} rows read; "
        f"{result['machine']['cores']} cores; duibiao {result['duibiao']['version']}, DuckDB {result['duckdb']['duckdb_version']} "
        f"({result['duckdb']['threads']} threads), Polars {result['polars']['polars_version']} ({result['polars']['threads']} threads); "
        f"best of {result['runs']} run(s) by whole-job wall time.",
        "",
        "| stage | tool | wall s | input rows/s | input MB/s | peak RSS MiB | duibiao ÷ tool |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for stage in ["ingest", "panel", "correlate", "whole job"]:
        ours = result["stages"]["duibiao"][stage]["seconds"]
        for key, label in TOOLS:
            s = result["stages"][key][stage]
            rss = s["peak_rss_bytes"] / MIB if s["peak_rss_bytes"] else None
            lines.append(
                f"| {stage} | {label} | {s['seconds']:.3f} | {fmt_num(rows_in / s['seconds'] if s['seconds'] else None)} | "
                f"{fmt_num(mb_in / s['seconds'] if s['seconds'] else None)} | {fmt_num(rss, 0)} | {'' if key == 'duibiao' else ratio(ours, s['seconds'])} |"
            )
    cat = result["raw_read"]
    lines += [
        "",
        f"Raw read of the inputs (`cat` to /dev/null, warm page cache): {cat['seconds']:.3f} s, {fmt_num(cat['mb_per_second'])} MB/s.",
    ]
    gen = result.get("generation")
    if gen and gen.get("seconds") is not None:
        note = "" if gen.get("ran_now") else " (recorded when the data was generated)"
        lines.append(f"Generation (`duibiao sample --scale {result['scale']}`): {gen['seconds']:.2f} s, peak RSS {gen['peak_rss_bytes'] / MIB:.0f} MiB{note}.")
    else:
        lines.append("Generation: not measured (data was already present and no record of its generation was found).")
    notes = result.get("notes") or []
    lines += [f"Note: {n}" for n in notes]
    lines += ["", "Row accounting (read / accepted / rejected):", "", "| source | duibiao | DuckDB | Polars | same |", "|---|---:|---:|---:|---|"]
    show = lambda r: f"{r['read']:,} / {r['accepted']:,} / {r['rejected']:,}" if r else "–"
    for name, by_tool in result["rows"].items():
        counts = [by_tool.get(key) for key, _ in TOOLS]
        same = "yes" if all(counts) and all(all(r[x] == counts[0][x] for x in ("read", "accepted", "rejected")) for r in counts) else "**no**"
        lines.append(f"| {name} | {' | '.join(show(r) for r in counts)} | {same} |")
    lines.append("")
    for pair, agree in (result.get("agreement") or {}).items():
        a, b = (dict(TOOLS)[k] for k in pair.split("-"))
        if agree.get("same"):
            p, c = agree["panel"], agree["correlations"]
            lines.append(f"Outputs of {a} and {b} agree: {p['joined_rows']:,} panel rows × {p['columns_compared']} columns (largest difference {p['max_abs_diff']:.1e}), "
                         f"{c['pearson_tests_compared']} Pearson coefficients (largest difference {c['max_abs_diff_r']:.1e}).")
        else:
            lines.append(f"**Outputs of {a} and {b} differ** (see `agreement` in bench.json).")
    lines.append(f"Panel rows: duibiao {result['duibiao']['panel_rows']}, DuckDB {result['duckdb']['panel_rows']}, Polars {result['polars']['panel_rows']}. "
                 f"Correlation rows: duibiao {result['duibiao']['correlations']} (Pearson and Spearman, with and without the control), "
                 f"DuckDB {result['duckdb']['correlations']} and Polars {result['polars']['correlations']} (Pearson, no control).")

    ref = result.get("reference") or {}
    if ref.get("sources"):
        lines += [
            "",
            "### Per source: duibiao's ingest against the plain engine step",
            "",
            "| source | tool | step s | input MB/s | process s | peak RSS MiB | rows | Parquet MB | compression | duibiao ÷ tool |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for src in ref["sources"]:
            ours = src["duibiao"]["seconds"]
            for key, label in TOOLS:
                e = src[key]
                lines.append(
                    f"| {src['source']} ({src['bytes'] / 1e6:,.1f} MB) | {label} | {e['seconds']:.3f} | {fmt_num(src['bytes'] / 1e6 / e['seconds'] if e['seconds'] else None)} | "
                    f"{e['process_seconds']:.3f} | {fmt_num(e['peak_rss_bytes'] / MIB, 0)} | {e['rows']:,} | {e['output_bytes'] / 1e6:,.1f} | {e['compression']} | "
                    f"{'' if key == 'duibiao' else ratio(ours, e['seconds'])} |"
                )
        lines += [
            "",
            "duibiao: `duibiao run` on a copy of the pipeline that holds only that source and the station master "
            f"({ref['stations_rows']:,} rows), no panel; step = its manifest's `ingest` + `quarantine`, rows = rows read, "
            "Parquet = its curated files of that source (with `source_file` and `source_row`). DuckDB and Polars: `bench/plain.py`, "
            "the same files read as text, typed with TRY_CAST / strptime (unparseable → null) and written partitioned by quarter; "
            "no checks, quarantine, duplicate removal or lineage; step timed inside the process after the engine is imported. "
            "process s: the whole child process. Each source's files are read once with `cat` before each tool; "
            f"best of {result['runs']} by step time.",
        ]
        for name, why in ref.get("skipped", {}).items():
            lines.append(f"No plain step for {name}: {why}.")
    return "\n".join(lines)


def parquet_compression(python: str, files: list[str]) -> str:
    """Compression of the first column chunk of the first file (read with the venv's pyarrow)."""
    if not files:
        return "–"
    code = "import sys, pyarrow.parquet as pq; m = pq.ParquetFile(sys.argv[1]).metadata; print(m.row_group(0).column(0).compression.lower() if m.num_row_groups else '–')"
    out = subprocess.run([python, "-c", code, files[0]], capture_output=True, text=True)
    return out.stdout.strip() or "?"


# ── main ──────────────────────────────────────────────────────────────────────────────────


def main() -> int:
    ap = argparse.ArgumentParser(description="duibiao's whole job against the same job in DuckDB and in Polars")
    ap.add_argument("--scale", choices=["province", "kashgar", "national"], default="province")
    ap.add_argument("--workdir", help="working folder (default: ~/.cache/duibiao-bench/SCALE)")
    ap.add_argument("--skip-generate", action="store_true", help="use WORK/data as it is")
    ap.add_argument("--skip-build", action="store_true", help="do not run cargo build --release")
    ap.add_argument("--binary", help="duibiao binary to use (implies --skip-build)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for every tool (default: all cores)")
    ap.add_argument("--runs", type=int, default=1, help="runs of each job; the fastest whole job is reported")
    ap.add_argument("--reference-sources", default="auto",
                    help="sources for the per-source rows: auto (every UTF-8 CSV source dated by a month or timestamp), none, or NAME,NAME")
    args = ap.parse_args()
    work = os.path.abspath(args.workdir or os.path.join(HOME, ".cache", "duibiao-bench", args.scale))
    os.makedirs(work, exist_ok=True)

    # (a)
    python = venv_python()

    # (b)
    if args.binary:
        binary = os.path.abspath(args.binary)
    else:
        binary = os.path.join(TARGET, "release", "duibiao")
        if not args.skip_build:
            log(f"cargo build --release (CARGO_TARGET_DIR={TARGET})")
            subprocess.run(["cargo", "build", "--release", "--locked"], cwd=REPO, env={**os.environ, "CARGO_TARGET_DIR": TARGET}, check=True)
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"no duibiao binary at {binary}")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip().removeprefix("duibiao ")
    notes = []
    if os.sep + "debug" + os.sep in binary:
        notes.append(f"duibiao is a debug build ({binary}): its times are not representative.")

    # (c)
    data = os.path.join(work, "data")
    gen_record = os.path.join(work, "generate.json")
    manifest = os.path.join(data, "manifest.json")
    present_scale = None
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as f:
            present_scale = json.load(f).get("scale")
    generation = None
    if args.skip_generate:
        if present_scale is None:
            raise SystemExit(f"--skip-generate, but there is no generated data in {data}")
        if present_scale != args.scale:
            notes.append(f"WORK/data holds scale {present_scale}, not {args.scale} (--skip-generate)")
    if present_scale == args.scale or args.skip_generate:
        if os.path.exists(gen_record):
            with open(gen_record, encoding="utf-8") as f:
                generation = {**json.load(f), "ran_now": False}
    else:
        shutil.rmtree(data, ignore_errors=True)
        log(f"generating --scale {args.scale} into {data}")
        g = checked(run_measured([binary, "sample", "--out", data, "--scale", args.scale]), "duibiao sample")
        generation = {"scale": args.scale, "seconds": g["seconds"], "peak_rss_bytes": g["peak_rss_bytes"], "binary": binary}
        with open(gen_record, "w", encoding="utf-8") as f:
            json.dump(generation, f, indent=2)
        generation["ran_now"] = True

    # (d)
    pipeline = write_pipeline(work)
    files = input_files(work, pipeline)
    total_bytes = sum(os.path.getsize(f) for f in files)

    # (e) first pass fills the page cache, the second is measured
    cat_all(files)
    cat_seconds = cat_all(files)

    # (f)
    env = dict(os.environ)
    if args.threads:
        env["RAYON_NUM_THREADS"] = str(args.threads)
        env["POLARS_MAX_THREADS"] = str(args.threads)
    jobs = {
        "duckdb": ("DuckDB job", os.path.join(BENCH, "duckdb_job.py"), os.path.join(work, "duckdb_out")),
        "polars": ("Polars job", os.path.join(BENCH, "polars_job.py"), os.path.join(work, "polars_out")),
    }
    best: dict = {}
    for i in range(args.runs):
        cat_all(files)
        log(f"duibiao run ({i + 1}/{args.runs})")
        d = checked(run_measured([binary, "run", pipeline, "--json", "--quiet"], cwd=work, env=env), "duibiao run")
        d["manifest"] = json.loads(d["stdout"])
        if "duibiao" not in best or d["seconds"] < best["duibiao"]["seconds"]:
            best["duibiao"] = d
        for key, (what, script, out) in jobs.items():
            cat_all(files)
            log(f"{what} ({i + 1}/{args.runs})")
            k = checked(run_measured([python, script, "--data", data, "--out", out, "--threads", str(args.threads)], env=env), what)
            k["report"] = json.loads(k["stdout"])
            if key not in best or k["seconds"] < best[key]["seconds"]:
                best[key] = k

    # Not timed: do the outputs agree (panel cells, Pearson coefficients)?
    outs = {"duibiao": os.path.join(work, "out"), "duckdb": jobs["duckdb"][2], "polars": jobs["polars"][2]}
    agreement = {}
    for a, b in [("duibiao", "duckdb"), ("duibiao", "polars"), ("duckdb", "polars")]:
        compare = subprocess.run([python, os.path.join(BENCH, "compare.py"), outs[a], outs[b]], capture_output=True, text=True)
        try:
            agreement[f"{a}-{b}"] = json.loads(compare.stdout)
        except json.JSONDecodeError:
            agreement[f"{a}-{b}"] = {"same": False, "error": compare.stderr[-2000:]}
        if not agreement[f"{a}-{b}"].get("same"):
            notes.append(f"the panels or coefficients of {a} and {b} differ: see `agreement` in bench.json.")

    # (g) per source: duibiao's ingest of that source alone against the plain engine step
    sys.path.insert(0, BENCH)
    import plain  # the source rules of the plain step (no engine imported)

    with open(pipeline, "rb") as f:
        spec = tomllib.load(f)
    if args.reference_sources == "none":
        wanted = []
    elif args.reference_sources == "auto":
        wanted = [n for n in spec["sources"] if n != spec["pipeline"]["stations"]]
    else:
        wanted = [n.strip() for n in args.reference_sources.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in spec["sources"]]
        if unknown:
            raise SystemExit(f"--reference-sources: no source {', '.join(unknown)} in the pipeline ({', '.join(spec['sources'])})")
    skipped, ref_sources = {}, []
    for name in wanted:
        why = plain.source_spec(pipeline, name)["why_not"]
        if why:
            skipped[name] = why
        else:
            ref_sources.append(name)
    ref_best: dict = {}
    for i in range(args.runs if ref_sources else 0):
        for name in ref_sources:
            src_files = source_files(work, pipeline, name)
            ref_pipeline = one_source_pipeline(work, pipeline, name)
            cat_all(src_files)
            log(f"{name}: duibiao ingest ({i + 1}/{args.runs})")
            d = checked(run_measured([binary, "run", ref_pipeline, "--json", "--quiet"], cwd=work, env=env), f"duibiao run {ref_pipeline}")
            m = json.loads(d["stdout"])
            step, _ = duibiao_ingest_seconds(stage_map(m.get("timings_seconds")))
            src_m = next(s for s in m["sources"] if s["name"] == name)
            n_files, n_bytes = tree_bytes(os.path.join(work, "ref", name, "duibiao", "curated", name))
            runs = {"duibiao": {"seconds": step, "process_seconds": d["seconds"], "peak_rss_bytes": d["peak_rss_bytes"], "rows": src_m["rows_read"],
                                "output_files": n_files, "output_bytes": n_bytes, "stations_rows": next(s["rows_read"] for s in m["sources"] if s["name"] != name)}}
            for engine in ("duckdb", "polars"):
                cat_all(src_files)
                log(f"{name}: plain {engine} ({i + 1}/{args.runs})")
                out = os.path.join(work, "ref", name, engine)
                k = checked(run_measured([python, os.path.join(BENCH, "plain.py"), "--engine", engine, "--pipeline", pipeline, "--source", name,
                                          "--out", out, "--threads", str(args.threads)], env=env), f"plain {engine} step of {name}")
                r = json.loads(k["stdout"])
                runs[engine] = {"seconds": r["seconds"], "process_seconds": k["seconds"], "peak_rss_bytes": k["peak_rss_bytes"], "rows": r["rows"],
                                "output_files": r["output_files"], "output_bytes": r["output_bytes"], "compression": r["compression"], "version": r["version"]}
            for key, e in runs.items():
                if (name, key) not in ref_best or e["seconds"] < ref_best[(name, key)]["seconds"]:
                    ref_best[(name, key)] = e
    reference_rows = []
    for name in ref_sources:
        src_files = source_files(work, pipeline, name)
        row = {"source": name, "files": len(src_files), "bytes": sum(os.path.getsize(f) for f in src_files)}
        for key, _ in TOOLS:
            row[key] = ref_best[(name, key)]
        curated = glob.glob(os.path.join(work, "ref", name, "duibiao", "curated", name, "**", "*.parquet"), recursive=True)
        row["duibiao"]["compression"] = parquet_compression(python, sorted(curated))
        reference_rows.append(row)
    stations_rows = reference_rows[0]["duibiao"]["stations_rows"] if reference_rows else 0

    # (h)
    bd = best["duibiao"]
    m = bd["manifest"]
    t = stage_map(m.get("timings_seconds"))
    rss = stage_map(m.get("peak_rss_bytes"))
    ingest_seconds, ingest_parts = duibiao_ingest_seconds(t)
    ingest_rss = [rss[name] for name in ingest_parts if rss.get(name) is not None]
    stages = {
        "duibiao": {
            "ingest": {"seconds": ingest_seconds, "peak_rss_bytes": max(ingest_rss) if ingest_rss else None, "parts": ingest_parts},
            "panel": {"seconds": t.get("panel", 0.0), "peak_rss_bytes": rss.get("panel")},
            "correlate": {"seconds": t.get("correlate", 0.0), "peak_rss_bytes": rss.get("correlate")},
            "whole job": {"seconds": bd["seconds"], "peak_rss_bytes": whole_peak(bd["peak_rss_bytes"], rss.values())},
        }
    }
    if not rss:
        notes.append("duibiao's manifest has no per-stage peak RSS; only the whole job's is shown.")
    for key, (what, _, _) in jobs.items():
        rep = best[key]["report"]
        by_name = {s["name"]: s for s in rep["stages"]}
        stages[key] = {name: {"seconds": by_name[name]["seconds"], "peak_rss_bytes": by_name[name]["peak_rss_bytes"]} for name in ("ingest", "panel", "correlate")}
        stages[key]["whole job"] = {"seconds": best[key]["seconds"], "peak_rss_bytes": whole_peak(best[key]["peak_rss_bytes"], [s["peak_rss_bytes"] for s in rep["stages"]])}
        if any(s.get("peak_is_lifetime") for s in rep["stages"]):
            notes.append(f"the {what} could not reset its RSS high-water mark: its stage peaks are lifetime peaks.")

    d_rows = {s["name"]: {"read": s["rows_read"], "accepted": s["accepted"], "rejected": s["rejected"], "dropped": s.get("dropped"), "duplicates": s.get("duplicates")} for s in m["sources"]}
    by_tool = {"duibiao": d_rows, **{key: best[key]["report"]["rows"] for key in jobs}}
    names = list(d_rows) + [n for key in jobs for n in by_tool[key] if n not in d_rows]
    rows = {name: {key: by_tool[key].get(name) for key, _ in TOOLS} for name in dict.fromkeys(names)}
    rows_read = sum(r["read"] for r in d_rows.values())
    for key, (what, _, _) in jobs.items():
        if rows_read != sum(r["read"] for r in by_tool[key].values()):
            notes.append(f"duibiao and the {what} read a different number of rows (see the row accounting).")

    result = {
        "scale": args.scale,
        "workdir": work,
        "runs": args.runs,
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "inputs": {"files": len(files), "bytes": total_bytes, "rows": rows_read},
        "raw_read": {"seconds": cat_seconds, "mb_per_second": total_bytes / 1e6 / cat_seconds if cat_seconds else None},
        "generation": generation,
        "stages": stages,
        "duibiao": {
            "binary": binary,
            "version": version,
            "timings_seconds": m.get("timings_seconds"),
            "peak_rss_bytes": m.get("peak_rss_bytes"),
            "process": {k: bd[k] for k in ("seconds", "peak_rss_bytes", "user_seconds", "system_seconds")},
            "panel_rows": (m.get("panel") or {}).get("rows"),
            "correlations": m.get("correlations"),
        },
        "duckdb": {
            **{k: best["duckdb"]["report"][k] for k in ("duckdb_version", "threads", "stages", "panel_rows", "correlations", "unmatched")},
            "process": {k: best["duckdb"][k] for k in ("seconds", "peak_rss_bytes", "user_seconds", "system_seconds")},
        },
        "polars": {
            **{k: best["polars"]["report"][k] for k in ("polars_version", "threads", "stages", "panel_rows", "correlations", "unmatched")},
            "process": {k: best["polars"][k] for k in ("seconds", "peak_rss_bytes", "user_seconds", "system_seconds")},
        },
        "rows": rows,
        "agreement": agreement,
        "reference": {"sources": reference_rows, "skipped": skipped, "stations_rows": stations_rows},
        "notes": notes,
    }
    result["markdown"] = markdown(result)
    with open(os.path.join(work, "bench.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
    print(result["markdown"])
    log(f"written {os.path.join(work, 'bench.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
