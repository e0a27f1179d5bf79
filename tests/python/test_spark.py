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


def test_spark_replay_reads_session_tags_as_the_cli(spark, tmp_path):
    """Policies testing aws:PrincipalTag: the sessions' tags come from the
    AssumeRole calls in the logs, here in another file (and partition) than
    the sessions' own calls; the merged report equals the CLI's."""
    binary = next((b for b in (ROOT / "target" / "debug" / "iamsim", ROOT / "target" / "release" / "iamsim") if b.exists()), None)
    if binary is None:
        pytest.skip("no iamsim binary built (cargo build): the CLI comparison needs one")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "red"}}}]}
    role = "arn:aws:iam::111122223333:role/app"
    details = tmp_path / "details.json"
    details.write_text(json.dumps({"RoleDetailList": [{"RoleName": "app", "Arn": role, "Tags": [{"Key": "team", "Value": "red"}],
                                                       "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": policy}]}]}))

    def assume(key, tags):
        return {"eventVersion": "1.08", "eventID": f"assume-{key}", "eventTime": "2026-11-01T00:00:00Z",
                "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "awsRegion": "us-east-1",
                "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
                "requestParameters": {"roleArn": role, "roleSessionName": "s", "tags": tags},
                "responseElements": {"credentials": {"accessKeyId": key}}}

    def session_call(key, i):
        return {"eventVersion": "1.08", "eventType": "AwsApiCall", "eventID": f"call-{key}-{i}", "eventTime": "2026-11-01T01:00:00Z",
                "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
                "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s",
                                 "accountId": "111122223333", "principalId": "AROAEXAMPLE:s", "accessKeyId": key,
                                 "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role},
                                                    "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-01T00:00:00Z"}}}}

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a-assume.json").write_text(json.dumps({"Records": [
        assume("ASIABLUE", [{"key": "team", "value": "blue"}]), assume("ASIARED", [{"key": "team", "value": "red"}])]}))
    (logs / "b-calls.json").write_text(json.dumps({"Records": [
        session_call(key, i) for i in range(3) for key in ("ASIABLUE", "ASIARED", "ASIAELSEWHERE")]}))
    out = tmp_path / "report.json"
    subprocess.run([str(binary), "replay", "--cloudtrail", str(logs), "--authorization-details", str(details),
                    "--report", str(out)], check=True, capture_output=True)
    cli = json.loads(out.read_text())
    got = iamsim.spark.replay(spark, [str(logs)], authorization_details=[details])
    # Blue sessions break (their tag overrides the role's), red ones do not,
    # and the session whose AssumeRole is not in the logs stays unknown.
    assert got["breakage"]["would_break"] == 3, got["breakage"]
    assert got["decisions"]["allowed"] == 3 and got["decisions"]["indeterminate"] == 3, got["decisions"]
    assert_same(got, cli)
