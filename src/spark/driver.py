"""duibiao's Spark driver: runs a Spark SQL job written by duibiao, statement by statement.

Usage (what duibiao runs; the platform team can run the same by hand):
    spark-submit driver.py JOB.sql --info spark.json
    python driver.py JOB.sql --info spark.json                      (pyspark installed, local mode)
    python driver.py JOB.sql --connect sc://host:15002 --info spark.json

A statement ends with ';' at the end of a line; lines starting with '--' are comments. The job
sets its own session settings (ANSI mode, partition type inference off, UTC). After the job, the
Spark version and the ANSI setting are written as JSON to --info.
"""

import argparse
import json
import shutil
import sys
import tempfile


def statements(text):
    current = []
    for line in text.splitlines():
        if line.lstrip().startswith("--") and not current:
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(current).rstrip().rstrip(";").strip()
            current = []
            if statement:
                yield statement
    rest = "\n".join(current).strip()
    if rest:
        yield rest


def main():
    parser = argparse.ArgumentParser(description="Run a duibiao Spark SQL job.")
    parser.add_argument("job")
    parser.add_argument("--connect", help="Spark Connect URL, e.g. sc://host:15002")
    parser.add_argument("--info", help="where to write the Spark version and ANSI setting (JSON)")
    args = parser.parse_args()

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("duibiao")
    # Spark's default catalog folder is ./spark-warehouse; a run touches nothing outside its
    # output folder, so the catalog lives in a temporary folder removed at the end.
    warehouse = None
    if args.connect:
        builder = builder.remote(args.connect)
    else:
        warehouse = tempfile.mkdtemp(prefix="duibiao-spark-warehouse-")
        builder = builder.config("spark.sql.warehouse.dir", warehouse)
        builder = builder.config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        builder = builder.config("spark.sql.session.timeZone", "UTC")
        builder = builder.config("spark.ui.enabled", "false")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    if not args.connect:
        spark.sparkContext.setLogLevel("WARN")

    with open(args.job, encoding="utf-8") as f:
        text = f.read()
    for n, statement in enumerate(statements(text), 1):
        try:
            spark.sql(statement)
        except Exception as e:  # the statement and Spark's message, for duibiao to show
            print(f"duibiao job statement {n} failed:\n{statement}\n\n{e}", file=sys.stderr)
            spark.stop()
            if warehouse:
                shutil.rmtree(warehouse, ignore_errors=True)
            sys.exit(1)

    info = {"spark_version": spark.version, "ansi": spark.conf.get("spark.sql.ansi.enabled")}
    if args.info:
        with open(args.info, "w", encoding="utf-8") as f:
            json.dump(info, f)
    spark.stop()
    if warehouse:
        shutil.rmtree(warehouse, ignore_errors=True)


if __name__ == "__main__":
    main()
