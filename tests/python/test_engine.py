"""The engine from Python: the semantics cases of corpus/cases (the Rust
tests' tests/corpus.rs, mirrored), located errors, and the GIL-free batch
against one-by-one decisions."""

import json
import pathlib
import threading

import pytest

import iamsim

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASE_FILES = sorted((ROOT / "corpus" / "cases").glob("*.json"))


def label(s: iamsim.MatchedStatement) -> str:
    return f"{s.layer}:{s.policy_index}:{s.statement_index}"


def request_of(check: dict) -> iamsim.Request:
    return iamsim.Request(
        check["principal"],
        check["action"],
        check["resource"],
        context=check.get("context"),
        resource_account=check.get("resource_account"),
        open_world=check.get("open_world", False),
        user_credentials=check.get("user_credentials", "long_term"),
    )


def cases():
    for path in CASE_FILES:
        for case in json.loads(path.read_text())["cases"]:
            yield pytest.param(case, id=f"{path.stem}-{case['id']}-{case['name'][:40]}")


def test_the_corpus_has_cases():
    assert len(CASE_FILES) >= 8
    assert sum(1 for _ in cases()) >= 100


@pytest.mark.parametrize("case", list(cases()))
def test_semantics_case(case):
    if "parse_error" in case:
        pe = case["parse_error"]
        with pytest.raises(iamsim.PolicyError) as raised:
            iamsim.parse_policy(pe["document"], name="case.json", kind=pe["kind"])
        assert raised.value.path == pe["path"]
        assert pe["message_contains"] in str(raised.value)
        assert raised.value.file == "case.json"
        return
    compiled = iamsim.PolicySet.from_bundle(json.dumps(case.get("policies", {}))).compile()
    requests = [request_of(c) for c in case["checks"]]
    batch = compiled.decide_many(requests)
    for check, req, from_batch in zip(case["checks"], requests, batch):
        d = compiled.decide(req)
        what = f"{check['action']} {check['resource']} as {check['principal']}"
        assert d.kind == check["expect"], what
        assert compiled.verdict(req) == d.kind, what
        assert (from_batch.kind, [label(s) for s in from_batch.statements]) == (d.kind, [label(s) for s in d.statements]), what
        if "statements" in check:
            assert [label(s) for s in d.statements] == check["statements"], what
        if "missing_context_keys" in check:
            assert d.missing_context_keys == check["missing_context_keys"], what
        if "unknown_context_keys" in check:
            assert d.unknown_context_keys == check["unknown_context_keys"], what


def test_a_policy_error_names_file_line_column_and_path():
    doc = '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",\n   "Resource": "*", "Condition": {"StringLikee": {"s3:prefix": "a"}}}]}'
    with pytest.raises(iamsim.PolicyError) as raised:
        iamsim.parse_policy(doc, name="bad.json")
    e = raised.value
    assert (e.file, e.path) == ("bad.json", "Statement[0].Condition.StringLikee")
    assert (e.line, e.column) == (3, 35)
    assert isinstance(e, ValueError)
    assert "bad.json:3:35" in str(e)
    with pytest.raises(iamsim.PolicyError) as raised:
        iamsim.parse_policy(b'{"Version": "2012-10-17", "Statement": [', name="cut.json")
    assert raised.value.kind == "Syntax" and raised.value.line == 1


def test_a_decision_says_when_the_credentials_are_in_doubt():
    # A session token may not call IAM without MFA: with the IAM user's
    # credentials unknown, an allowed IAM call waits on them, and says so.
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}'
    compiled = iamsim.PolicySet.from_bundle(json.dumps({"identity": [json.loads(policy)]})).compile()
    user = "arn:aws:iam::111122223333:user/a"

    def decide(action, credentials):
        return compiled.decide(iamsim.Request(user, action, "*", user_credentials=credentials))

    doubtful = decide("iam:ListUsers", "unknown")
    assert (doubtful.kind, doubtful.unknown_credentials) == ("indeterminate", True)
    assert doubtful.unknown_context_keys == []
    known = decide("iam:ListUsers", "long_term")
    assert (known.kind, known.unknown_credentials) == ("allowed", False)
    denied = decide("iam:CreateUser", "unknown")
    assert (denied.kind, denied.unknown_credentials) == ("implicitDeny", False)


def test_bad_arguments_are_refused_with_their_reason():
    with pytest.raises(iamsim.RequestError, match="not a principal"):
        iamsim.Request("alice", "s3:GetObject", "*")
    with pytest.raises(iamsim.RequestError):
        iamsim.Request("arn:aws:iam::111122223333:user/a", "s3:GetObject", "*", context={"aws:SourceIp": {"nested": 1}})
    with pytest.raises(ValueError, match="kind `admin`"):
        iamsim.parse_policy("{}", kind="admin")
    with pytest.raises(ValueError, match="user_credentials"):
        iamsim.Request("arn:aws:iam::111122223333:user/a", "s3:GetObject", "*", user_credentials="forever")
    with pytest.raises(TypeError):
        iamsim.parse_policy(42)
    with pytest.raises(iamsim.PolicyError):
        iamsim.PolicySet.from_bundle('{"identity": [{"Statement": {"Effect": "Allow"}}]}')


def test_decide_many_equals_one_by_one_and_runs_without_the_gil():
    bundle = (ROOT / "corpus" / "eks" / "bundle.json").read_text()
    compiled = iamsim.PolicySet.from_bundle(bundle, name="eks").compile()
    lines = (ROOT / "corpus" / "eks" / "requests.jsonl").read_text().splitlines()
    requests = [iamsim.Request.from_json(line) for line in lines] * 20
    expected = (ROOT / "corpus" / "eks" / "expected.txt").read_text().split()
    one_by_one = [compiled.decide(r) for r in requests]
    assert [d.kind for d in one_by_one[: len(expected)]] == expected
    results = {}

    def batch():
        results["batch"] = compiled.decide_many(requests)

    # Two batches on two Python threads at once: each releases the GIL.
    threads = [threading.Thread(target=batch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = results["batch"]
    assert len(got) == len(requests)
    for a, b in zip(got, one_by_one):
        assert (a.kind, [label(s) for s in a.statements], a.missing_context_keys) == (
            b.kind,
            [label(s) for s in b.statements],
            b.missing_context_keys,
        )


def test_policies_and_sets_read_back():
    p = iamsim.parse_policy(
        '{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:Get*","Resource":"*"},'
        '{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::secret/*"}]}',
        name="reader",
    )
    assert (p.name, p.kind, p.statement_count) == ("reader", "identity", 2)
    assert json.loads(p.to_json())["Statement"][0]["Sid"] == "Read"
    scp = iamsim.parse_policy('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}', kind="scp")
    compiled = iamsim.PolicySet(identity=[p], scps=[[scp]]).compile()
    alice = "arn:aws:iam::111122223333:user/alice"
    denied = compiled.decide(iamsim.Request(alice, "s3:GetObject", "arn:aws:s3:::secret/k"))
    assert denied.kind == "explicitDeny" and not denied.allowed
    assert [(s.effect, s.layer, s.statement_index, s.policy) for s in denied.statements] == [("Deny", "identity", 1, "reader")]
    allowed = compiled.decide(iamsim.Request(alice, "s3:GetObject", "arn:aws:s3:::open/k"))
    assert allowed.allowed and [s.layer for s in allowed.statements] == ["identity", "scp/0"]
    nothing = compiled.decide(iamsim.Request(alice, "s3:PutObject", "arn:aws:s3:::open/k"))
    assert (nothing.kind, nothing.missing_allow) == ("implicitDeny", "identity")
    assert compiled.statement_count == 3


def test_decide_arrow_equals_decide_row_for_row():
    pa = pytest.importorskip("pyarrow")
    bundle = (ROOT / "corpus" / "eks" / "bundle.json").read_text()
    compiled = iamsim.PolicySet.from_bundle(bundle, name="eks").compile()
    rows = [json.loads(line) for line in (ROOT / "corpus" / "eks" / "requests.jsonl").read_text().splitlines()]
    table = pa.table(
        {
            "principal": [r["principal"] for r in rows],
            "action": [r["action"] for r in rows],
            "resource": [r["resource"] for r in rows],
            "resource_account": [r.get("resource_account") for r in rows],
            "context": [json.dumps(r["context"]) if "context" in r else None for r in rows],
        }
    )
    # Several batches: rows keep their order across them.
    table = pa.Table.from_batches(table.to_batches(max_chunksize=37))
    assert table.num_rows == len(rows) and len(table.to_batches()) > 1
    out = compiled.decide_arrow(table)
    assert isinstance(out, pa.Table) and out.num_rows == table.num_rows
    assert out.column_names == ["decision", "statements", "missing_context_keys", "unknown_context_keys"]
    for row, got in zip(rows, out.to_pylist()):
        d = compiled.decide(iamsim.Request.from_json(json.dumps(row)))
        assert got["decision"] == d.kind
        assert got["statements"] == [label(s) for s in d.statements]
        assert got["missing_context_keys"] == d.missing_context_keys
    expected = (ROOT / "corpus" / "eks" / "expected.txt").read_text().split()
    assert out.column("decision").to_pylist() == expected
    # A record batch answers as a record batch.
    batch = table.to_batches()[0]
    assert isinstance(compiled.decide_arrow(batch), pa.RecordBatch)
    # Open world: the keys the rows do not give are unknown.
    open_out = compiled.decide_arrow(table, open_world=True)
    assert "indeterminate" in open_out.column("decision").to_pylist()


def test_decide_arrow_reads_a_struct_context():
    """A struct `context` column (fields = keys, null = not given) decides as
    the same contexts given as JSON; booleans, integers and lists of strings
    are read as their text and as multi-valued keys."""
    pa = pytest.importorskip("pyarrow")
    bundle = (ROOT / "corpus" / "eks" / "bundle.json").read_text()
    compiled = iamsim.PolicySet.from_bundle(bundle, name="eks").compile()
    rows = [json.loads(line) for line in (ROOT / "corpus" / "eks" / "requests.jsonl").read_text().splitlines()]
    columns = {name: [r.get(name) for r in rows] for name in ("principal", "action", "resource", "resource_account")}
    as_json = compiled.decide_arrow(pa.table({**columns, "context": [json.dumps(r.get("context", {})) for r in rows]}))
    as_struct = compiled.decide_arrow(pa.table({**columns, "context": pa.array([r.get("context", {}) for r in rows])}))
    assert as_struct.equals(as_json)
    for open_world in (False, True):
        got = compiled.decide_arrow(pa.table({**columns, "context": pa.array([r.get("context", {}) for r in rows])}), open_world=open_world)
        want = compiled.decide_arrow(pa.table({**columns, "context": [json.dumps(r.get("context", {})) for r in rows]}), open_world=open_world)
        assert got.equals(want), open_world
    # Typed fields, and a null struct (no context at all).
    policy = iamsim.parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {
            "Bool": {"aws:SecureTransport": "true"}, "NumericLessThan": {"s3:max-keys": "10"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}}]}), name="typed")
    typed = iamsim.PolicySet(identity=[policy]).compile()
    user = "arn:aws:iam::111122223333:user/a"
    contexts = pa.array(
        [{"aws:SecureTransport": True, "s3:max-keys": 5, "aws:TagKeys": ["a"]},
         {"aws:SecureTransport": True, "s3:max-keys": 50, "aws:TagKeys": ["a"]},
         {"aws:SecureTransport": False, "s3:max-keys": 5, "aws:TagKeys": ["a"]},
         {"aws:SecureTransport": True, "s3:max-keys": 5, "aws:TagKeys": ["a", "c"]},
         None],
        pa.struct([("aws:SecureTransport", pa.bool_()), ("s3:max-keys", pa.int64()), ("aws:TagKeys", pa.list_(pa.string()))]),
    )
    n = len(contexts)
    out = typed.decide_arrow(pa.table({"principal": [user] * n, "action": ["s3:GetObject"] * n, "resource": ["*"] * n, "context": contexts}))
    assert out.column("decision").to_pylist() == ["allowed"] + ["implicitDeny"] * 4
    for bad, match in [
        (pa.array([{"a": 1.5}]), "field `a`: expected strings, booleans, int64"),
        (pa.array([{"aws:SourceIp": "1", "AWS:SOURCEIP": "2"}]), "are one key"),
    ]:
        with pytest.raises((TypeError, ValueError), match=match):
            typed.decide_arrow(pa.table({"principal": [user], "action": ["s3:GetObject"], "resource": ["*"], "context": bad}))


def test_decide_arrow_names_the_bad_row():
    pa = pytest.importorskip("pyarrow")
    compiled = iamsim.PolicySet().compile()
    good = "arn:aws:iam::111122223333:user/a"
    with pytest.raises(iamsim.RequestError, match="row 1: "):
        compiled.decide_arrow(pa.table({"principal": [good, "nobody"], "action": ["s3:GetObject"] * 2, "resource": ["*"] * 2}))
    with pytest.raises(ValueError, match="no `resource` column"):
        compiled.decide_arrow(pa.table({"principal": [good], "action": ["s3:GetObject"]}))
    with pytest.raises(ValueError, match="row 0: `action` is null"):
        compiled.decide_arrow(pa.table({"principal": [good], "action": pa.array([None], pa.string()), "resource": ["*"]}))
    with pytest.raises(TypeError, match="expected strings"):
        compiled.decide_arrow(pa.table({"principal": [good], "action": [1], "resource": ["*"]}))
    with pytest.raises(iamsim.RequestError, match="row 0: context"):
        compiled.decide_arrow(pa.table({"principal": [good], "action": ["s3:GetObject"], "resource": ["*"], "context": ["{"]}))
