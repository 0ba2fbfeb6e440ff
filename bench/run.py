#!/usr/bin/env python3
"""Benchmark: duibiao's whole quarterly job against the same job done in DuckDB, on the same
generated exports.

    python3 bench/run.py [--scale province|kashgar|national] [--workdir DIR] [--skip-generate]
                         [--skip-build] [--binary PATH] [--threads N] [--runs N]

Steps: (a) a venv with duckdb, pyarrow and openpyxl (bench/requirements.txt); (b) `cargo build
--release`; (c) `duibiao sample --scale SCALE` into WORK/data unless it is there; (d)
WORK/pipeline.toml, the Kashgar pipeline pointed at WORK/data and WORK/out; (e) the raw read speed
of the inputs (`cat`, warm page cache); (f) `duibiao run` and bench/duckdb_job.py, each a child
process timed by wall clock with its peak RSS from wait4; (g) a Markdown table on stdout, and
everything as WORK/bench.json. See bench/README.md.
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


# ── (a) the venv of the DuckDB job ────────────────────────────────────────────────────────


def venv_python() -> str:
    python = os.path.join(VENV, "bin", "python")
    probe = [python, "-c", "import duckdb, pyarrow, openpyxl"]
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


def markdown(result: dict) -> str:
    rows_in, mb_in = result["inputs"]["rows"], result["inputs"]["bytes"] / 1e6
    lines = [
        f"## duibiao vs DuckDB — scale {result['scale']}",
        "",
        f"{result['inputs']['files']} input files, {mb_in:,.1f} MB, {rows_in:,} rows read; "
        f"{result['machine']['cores']} cores; duibiao {result['duibiao']['version']}, DuckDB {result['duckdb']['duckdb_version']} "
        f"({result['duckdb']['threads']} threads); best of {result['runs']} run(s) by whole-job wall time.",
        "",
        "| stage | tool | wall s | input rows/s | input MB/s | peak RSS MiB | duibiao ÷ DuckDB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for stage in ["ingest", "panel", "correlate", "whole job"]:
        d, k = result["stages"]["duibiao"][stage], result["stages"]["duckdb"][stage]
        ratio = f"{d['seconds'] / k['seconds']:.2f}×" if k["seconds"] else "–"
        for tool, s, r in [("duibiao", d, ratio), ("DuckDB", k, "")]:
            rss = s["peak_rss_bytes"] / MIB if s["peak_rss_bytes"] else None
            lines.append(
                f"| {stage} | {tool} | {s['seconds']:.3f} | {fmt_num(rows_in / s['seconds'] if s['seconds'] else None)} | "
                f"{fmt_num(mb_in / s['seconds'] if s['seconds'] else None)} | {fmt_num(rss, 0)} | {r} |"
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
    lines += ["", "Row accounting (read / accepted / rejected):", "", "| source | duibiao | DuckDB | same |", "|---|---:|---:|---|"]
    for name, (d, k) in result["rows"].items():
        show = lambda r: f"{r['read']:,} / {r['accepted']:,} / {r['rejected']:,}" if r else "–"
        same = "yes" if d and k and all(d[x] == k[x] for x in ("read", "accepted", "rejected")) else "**no**"
        lines.append(f"| {name} | {show(d)} | {show(k)} | {same} |")
    agree = result.get("agreement") or {}
    if agree.get("same"):
        p, c = agree["panel"], agree["correlations"]
        lines.append(f"\nOutputs agree: {p['joined_rows']:,} panel rows × {p['columns_compared']} columns (largest difference {p['max_abs_diff']:.1e}), "
                     f"{c['pearson_tests_compared']} Pearson coefficients (largest difference {c['max_abs_diff_r']:.1e}).")
    else:
        lines.append("\n**Outputs differ** (see `agreement` in bench.json).")
    lines.append(f"Panel rows: duibiao {result['duibiao']['panel_rows']}, DuckDB {result['duckdb']['panel_rows']}. "
                 f"Correlation rows: duibiao {result['duibiao']['correlations']} (Pearson and Spearman, with and without the control), "
                 f"DuckDB {result['duckdb']['correlations']} (Pearson, no control).")
    return "\n".join(lines)


# ── main ──────────────────────────────────────────────────────────────────────────────────


def main() -> int:
    ap = argparse.ArgumentParser(description="duibiao's whole job against the same job in DuckDB")
    ap.add_argument("--scale", choices=["province", "kashgar", "national"], default="province")
    ap.add_argument("--workdir", help="working folder (default: ~/.cache/duibiao-bench/SCALE)")
    ap.add_argument("--skip-generate", action="store_true", help="use WORK/data as it is")
    ap.add_argument("--skip-build", action="store_true", help="do not run cargo build --release")
    ap.add_argument("--binary", help="duibiao binary to use (implies --skip-build)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for both tools (default: all cores)")
    ap.add_argument("--runs", type=int, default=1, help="runs of each job; the fastest whole job is reported")
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
    best_d = best_k = None
    for i in range(args.runs):
        cat_all(files)
        log(f"duibiao run ({i + 1}/{args.runs})")
        d = checked(run_measured([binary, "run", pipeline, "--json", "--quiet"], cwd=work, env=env), "duibiao run")
        d["manifest"] = json.loads(d["stdout"])
        if best_d is None or d["seconds"] < best_d["seconds"]:
            best_d = d
        cat_all(files)
        log(f"DuckDB job ({i + 1}/{args.runs})")
        k = checked(run_measured([python, os.path.join(BENCH, "duckdb_job.py"), "--data", data, "--out", os.path.join(work, "duckdb_out"), "--threads", str(args.threads)]), "DuckDB job")
        k["report"] = json.loads(k["stdout"])
        if best_k is None or k["seconds"] < best_k["seconds"]:
            best_k = k

    # Not timed: do the two outputs agree (panel cells, Pearson coefficients)?
    compare = subprocess.run([python, os.path.join(BENCH, "compare.py"), os.path.join(work, "out"), os.path.join(work, "duckdb_out")], capture_output=True, text=True)
    try:
        agreement = json.loads(compare.stdout)
    except json.JSONDecodeError:
        agreement = {"same": False, "error": compare.stderr[-2000:]}
    if not agreement.get("same"):
        notes.append("the two jobs' panels or coefficients differ: see `agreement` in bench.json.")

    # (g)
    m, rep = best_d["manifest"], best_k["report"]
    t = stage_map(m.get("timings_seconds"))
    rss = stage_map(m.get("peak_rss_bytes"))
    # duibiao's ingest: every stage between compile and panel (ingest, and the writing of curated
    # data and quarantine, which older versions timed as `write`, newer ones as `quarantine`).
    ingest_parts = [name for name in t if name not in ("compile", "panel", "correlate", "total")]
    ingest_rss = [rss[name] for name in ingest_parts if rss.get(name) is not None]
    duibiao_stages = {
        "ingest": {"seconds": sum(t[name] for name in ingest_parts), "peak_rss_bytes": max(ingest_rss) if ingest_rss else None, "parts": ingest_parts},
        "panel": {"seconds": t.get("panel", 0.0), "peak_rss_bytes": rss.get("panel")},
        "correlate": {"seconds": t.get("correlate", 0.0), "peak_rss_bytes": rss.get("correlate")},
        "whole job": {"seconds": best_d["seconds"], "peak_rss_bytes": whole_peak(best_d["peak_rss_bytes"], rss.values())},
    }
    if not rss:
        notes.append("duibiao's manifest has no per-stage peak RSS; only the whole job's is shown.")
    k_stages = {s["name"]: s for s in rep["stages"]}
    duckdb_stages = {
        name: {"seconds": k_stages[name]["seconds"], "peak_rss_bytes": k_stages[name]["peak_rss_bytes"]} for name in ("ingest", "panel", "correlate")
    }
    duckdb_stages["whole job"] = {"seconds": best_k["seconds"], "peak_rss_bytes": whole_peak(best_k["peak_rss_bytes"], [s["peak_rss_bytes"] for s in rep["stages"]])}
    if any(s.get("peak_is_lifetime") for s in rep["stages"]):
        notes.append("the DuckDB job could not reset its RSS high-water mark: its stage peaks are lifetime peaks.")

    d_rows = {s["name"]: {"read": s["rows_read"], "accepted": s["accepted"], "rejected": s["rejected"], "dropped": s.get("dropped"), "duplicates": s.get("duplicates")} for s in m["sources"]}
    k_rows = rep["rows"]
    rows = {name: (d_rows.get(name), k_rows.get(name)) for name in list(d_rows) + [n for n in k_rows if n not in d_rows]}
    rows_read = sum(r["read"] for r in d_rows.values())
    if rows_read != sum(r["read"] for r in k_rows.values()):
        notes.append("the two jobs read a different number of rows (see the row accounting).")

    result = {
        "scale": args.scale,
        "workdir": work,
        "runs": args.runs,
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "inputs": {"files": len(files), "bytes": total_bytes, "rows": rows_read},
        "raw_read": {"seconds": cat_seconds, "mb_per_second": total_bytes / 1e6 / cat_seconds if cat_seconds else None},
        "generation": generation,
        "stages": {"duibiao": duibiao_stages, "duckdb": duckdb_stages},
        "duibiao": {
            "binary": binary,
            "version": version,
            "timings_seconds": m.get("timings_seconds"),
            "peak_rss_bytes": m.get("peak_rss_bytes"),
            "process": {k: best_d[k] for k in ("seconds", "peak_rss_bytes", "user_seconds", "system_seconds")},
            "panel_rows": (m.get("panel") or {}).get("rows"),
            "correlations": m.get("correlations"),
        },
        "duckdb": {
            **{k: rep[k] for k in ("duckdb_version", "threads", "stages", "panel_rows", "correlations", "unmatched")},
            "process": {k: best_k[k] for k in ("seconds", "peak_rss_bytes", "user_seconds", "system_seconds")},
        },
        "rows": rows,
        "agreement": agreement,
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
