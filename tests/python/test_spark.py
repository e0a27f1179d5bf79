"""iamsim.spark on a real Spark (PySpark, local[2]): the merged report of
the corpus logs, and of the real CloudTrail samples when ../shared/data is
there, equals the CLI's report.json field by field."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import iamsim
import iamsim.spark

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPLAY = ROOT / "corpus" / "replay"
# Timing, and the CLI's record of its own arguments.
NOT_COMPARED = {"events_per_sec", "inputs"}

pyspark = pytest.importorskip("pyspark", reason="SKIP: pyspark is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("SKIP: no Java for Spark (.ci/run installs openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    # The executors' Python workers run this interpreter (where iamsim is installed).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("iamsim-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.files.maxPartitionBytes", str(64 * 1024))
        .getOrCreate()
    )
    yield session
    session.stop()


def cli_report(tmp_path, cloudtrail, extra=()):
    binary = next((b for b in (ROOT / "target" / "debug" / "iamsim", ROOT / "target" / "release" / "iamsim") if b.exists()), None)
    if binary is None:
        pytest.skip("no iamsim binary built (cargo build): the CLI comparison needs one")
    out = tmp_path / "report.json"
    subprocess.run(
        [str(binary), "replay", "--cloudtrail", str(cloudtrail), "--authorization-details", str(REPLAY / "authorization-details.json"),
         "--max-malformed", "100", "--report", str(out), *extra],
        check=True, capture_output=True,
    )
    return json.loads(out.read_text())


def assert_same(got, cli):
    assert set(got) - NOT_COMPARED == set(cli) - NOT_COMPARED
    for field in sorted(set(cli) - NOT_COMPARED):
        assert got[field] == cli[field], field


def test_spark_replay_of_the_corpus_equals_the_cli(spark, tmp_path):
    node = "arn:aws:iam::111122223333:role/eks-node-role"
    proposal = REPLAY / "proposed-node-policy.json"
    cli = cli_report(tmp_path, REPLAY / "cloudtrail", ["--override", f"{node}={proposal}"])
    got = iamsim.spark.replay(
        spark,
        [str(REPLAY / "cloudtrail")],
        authorization_details=[REPLAY / "authorization-details.json"],
        overrides={node: iamsim.parse_policy(proposal.read_text(), name=str(proposal))},
        decisions=str(tmp_path / "decisions"),
    )
    assert got["events_read"] > 0 and got["breakage"]["would_break"] > 0
    assert_same(got, cli)
    written = spark.read.parquet(str(tmp_path / "decisions"))
    assert written.count() == got["checks"]
    assert {"action", "decision", "principal"} <= set(written.columns)


def test_spark_replay_of_the_real_samples_equals_the_cli(spark, tmp_path):
    data = ROOT.parent / "shared" / "data" / "cloudtrail"
    if not data.is_dir():
        pytest.skip("SKIP: ../shared/data/cloudtrail is absent")
    cli = cli_report(tmp_path, data)
    # Several partitions, so the report is merged from several partials.
    files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(data))
    assert files.rdd.getNumPartitions() > 1
    got = iamsim.spark.replay(spark, [str(data)], authorization_details=[REPLAY / "authorization-details.json"])
    assert got["events_read"] > 1000
    assert_same(got, cli)
