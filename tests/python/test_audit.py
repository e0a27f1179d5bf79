"""The audit applications from Python: the catalog (expand, validate) and
access queries over the corpus account, answering as the CLI's JSON does
(the same hand-checked scenario as tests/access.rs)."""

import json
import pathlib
import subprocess

import pytest

import iamsim

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCESS = ROOT / "corpus" / "access"
CATALOG = ROOT / "corpus" / "catalog" / "service-reference"


@pytest.fixture(scope="module")
def catalog():
    return iamsim.Catalog.load(CATALOG)


@pytest.fixture(scope="module")
def account():
    scp = iamsim.parse_policy((ACCESS / "scp.json").read_text(), name="corpus/access/scp.json", kind="scp")
    bucket = json.loads((ACCESS / "resource-policies.json").read_text())["arn:aws:s3:::example-data"]
    policy = iamsim.parse_policy(json.dumps(bucket), name="bucket", kind="resource")
    return iamsim.Account(
        [(ACCESS / "authorization-details.json").read_text()],
        scps=[[scp]],
        resource_policies={"arn:aws:s3:::example-data": policy},
        context={"aws:SecureTransport": True},
    )


def test_expand_and_validate(catalog):
    assert catalog.action_count > 10
    assert catalog.expand(["s3:Get*"]) == ["s3:GetObject"]
    findings = catalog.validate(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObjekt","Resource":"*"}]}', name="typo.json"
    )
    assert findings and findings[0]["severity"] == "error"
    assert "s3:GetObject" in findings[0]["message"] and findings[0]["path"].startswith("Statement[0].Action")
    with pytest.raises(iamsim.PolicyError):
        catalog.validate("{", name="cut.json")
    with pytest.raises(iamsim.InputError, match="nowhere"):
        iamsim.Catalog.load(ROOT / "nowhere")


def test_who_can_answers_as_the_cli(account):
    who = account.who_can("s3:GetObject", "arn:aws:s3:::example-data/*")
    got = {(a["principal"], a["access"], a["resource"]) for a in who["answers"]}
    assert got == {
        ("arn:aws:iam::111122223333:role/admin", "allowed", "arn:aws:s3:::example-data/*"),
        ("arn:aws:iam::111122223333:role/app", "allowed", "arn:aws:s3:::example-data/app/*"),
        ("arn:aws:iam::111122223333:user/carol", "allowed", "arn:aws:s3:::example-data/*"),
        ("arn:aws:iam::111122223333:user/dev/alice", "allowed", "arn:aws:s3:::example-data/*"),
        ("arn:aws:iam::444455556666:role/partner-reader", "allowed", "arn:aws:s3:::example-data/shared/*"),
    }
    assert (who["principals"], who["not_allowed"]) == (7, 2)
    carol = next(a for a in who["answers"] if a["principal"].endswith("user/carol"))
    assert carol["except"][0].startswith("arn:aws:s3:::example-data/secret/*")


def test_who_can_equals_the_cli(account):
    binary = next((b for b in (ROOT / "target" / "debug" / "iamsim", ROOT / "target" / "release" / "iamsim") if b.exists()), None)
    if binary is None:
        pytest.skip("no iamsim binary built (cargo build): the CLI comparison needs one")
    cli = subprocess.run(
        [str(binary), "who-can", "s3:GetObject", "arn:aws:s3:::example-data/*",
         "--authorization-details", str(ACCESS / "authorization-details.json"), "--scp", str(ACCESS / "scp.json"),
         "--resource-policies", str(ACCESS / "resource-policies.json"), "--context", '{"aws:SecureTransport": true}',
         "--format", "json"],
        capture_output=True, text=True, check=True,
    )
    who = account.who_can("s3:GetObject", "arn:aws:s3:::example-data/*")
    strip = lambda answers: sorted((a["principal"], a["access"], a["resource"], a["decision"], len(a["statements"])) for a in answers)
    assert strip(json.loads(cli.stdout)["answers"]) == strip(who["answers"])


def test_principal_can_and_can_access(account, catalog):
    alice = account.principal_can("arn:aws:iam::111122223333:user/dev/alice", catalog)
    s3 = next(s for s in alice["services"] if s["service"] == "s3")
    put = next(a for a in s3["actions"] if a["action"] == "s3:PutObject")
    assert put["grants"][0]["resource"] == "arn:aws:s3:::example-data/alice/*"
    assert put["grants"][0]["access"] == "conditional"
    assert put["grants"][0]["depends_on"] == ["aws:MultiFactorAuthPresent"]
    both = account.principal_can(["arn:aws:iam::111122223333:user/dev/alice", "arn:aws:iam::111122223333:role/app"], catalog, services=["s3"])
    assert [c["principal"] for c in both] == ["arn:aws:iam::111122223333:user/dev/alice", "arn:aws:iam::111122223333:role/app"]
    assert both[1]["taken_away"][0]["action"] == "s3:PutObject"
    answers = account.can_access("arn:aws:iam::111122223333:role/app", "arn:aws:s3:::example-data/app/q1.csv", catalog)
    assert {a["action"]: a["access"] for a in answers} == {
        "s3:GetObject": "allowed", "s3:PutObject": "not_allowed", "s3:DeleteObject": "not_allowed", "s3:PutObjectTagging": "not_allowed",
    }
    with pytest.raises(iamsim.InputError, match="not a user or role"):
        account.can_access("arn:aws:iam::111122223333:user/nobody", "arn:aws:s3:::example-data/k", catalog)
    with pytest.raises(ValueError, match="access level"):
        account.principal_can("arn:aws:iam::111122223333:user/bob", catalog, access_levels=["Reads"])
    assert len(account.principals) == 5


def cli_binary():
    found = next((b for b in (ROOT / "target" / "debug" / "iamsim", ROOT / "target" / "release" / "iamsim") if b.exists()), None)
    if found is None:
        pytest.skip("no iamsim binary built (cargo build): the CLI comparison needs one")
    return found


# Timing, and the CLI's record of its own arguments.
NOT_COMPARED = {"events_per_sec", "inputs"}


@pytest.mark.parametrize("proposed", [False, True])
def test_replay_reports_as_the_cli(tmp_path, proposed):
    replay_dir = ROOT / "corpus" / "replay"
    node = "arn:aws:iam::111122223333:role/eks-node-role"
    proposal = replay_dir / "proposed-node-policy.json"
    args = [str(cli_binary()), "replay", "--cloudtrail", str(replay_dir / "cloudtrail"),
            "--authorization-details", str(replay_dir / "authorization-details.json"),
            "--max-malformed", "20", "--report", str(tmp_path / "report.json")]
    overrides = None
    if proposed:
        args += ["--override", f"{node}={proposal}"]
        overrides = {node: iamsim.parse_policy(proposal.read_text(), name=str(proposal))}
    subprocess.run(args, check=True, capture_output=True)
    cli = json.loads((tmp_path / "report.json").read_text())
    got = iamsim.replay(
        [replay_dir / "cloudtrail"], authorization_details=[replay_dir / "authorization-details.json"], overrides=overrides
    )
    assert got["events_read"] > 0 and got["events_evaluated"] > 0
    assert set(got) - NOT_COMPARED == set(cli) - NOT_COMPARED
    for field in sorted(set(cli) - NOT_COMPARED):
        assert got[field] == cli[field], field
    if proposed:
        assert cli["breakage"]["would_break"] > 0


def test_replay_decisions_as_arrow_equal_the_cli_out(tmp_path):
    pytest.importorskip("pyarrow")
    replay_dir = ROOT / "corpus" / "replay"
    node = "arn:aws:iam::111122223333:role/eks-node-role"
    proposal = replay_dir / "proposed-node-policy.json"
    out = tmp_path / "decisions.jsonl"
    subprocess.run([str(cli_binary()), "replay", "--cloudtrail", str(replay_dir / "cloudtrail"),
                    "--authorization-details", str(replay_dir / "authorization-details.json"),
                    "--override", f"{node}={proposal}", "--max-malformed", "20", "--out", str(out)],
                   check=True, capture_output=True)
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    report, table = iamsim.replay(
        [replay_dir / "cloudtrail"], authorization_details=[replay_dir / "authorization-details.json"],
        overrides={node: iamsim.parse_policy(proposal.read_text(), name=str(proposal))}, decisions=True,
    )
    assert table.num_rows == len(cli) == report["checks"]
    assert table.schema.field("resource").nullable and not table.schema.field("action").nullable
    # The CLI leaves out some members that are null; the table has every column.
    def norm(rows):
        return sorted((json.dumps({k: v for k, v in r.items() if v is not None}, sort_keys=True) for r in rows))

    rows = table.to_pylist()
    assert norm(rows) == norm(cli)
    assert any(r.get("breakage") == "would_break" for r in rows)
    # Without decisions: the report alone, the same.
    alone = iamsim.replay(
        [replay_dir / "cloudtrail"], authorization_details=[replay_dir / "authorization-details.json"],
        overrides={node: iamsim.parse_policy(proposal.read_text(), name=str(proposal))},
    )
    assert {k: v for k, v in alone.items() if k not in NOT_COMPARED} == {k: v for k, v in report.items() if k not in NOT_COMPARED}


def test_replay_errors_are_named(tmp_path):
    with pytest.raises(iamsim.InputError, match="nothing to replay against"):
        iamsim.replay([ROOT / "corpus" / "replay" / "cloudtrail"])
    with pytest.raises(iamsim.InputError, match="cannot read"):
        iamsim.replay([ROOT / "corpus" / "replay" / "cloudtrail"], authorization_details=[tmp_path / "none.json"])
    with pytest.raises(iamsim.InputError, match="not a user or role in the authorization details"):
        iamsim.replay(
            [ROOT / "corpus" / "replay" / "cloudtrail"],
            authorization_details=[ROOT / "corpus" / "replay" / "authorization-details.json"],
            overrides={"arn:aws:iam::111122223333:role/ghost": iamsim.parse_policy('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}')},
        )
