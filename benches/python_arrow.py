"""decide_arrow's throughput against the Rust engine on the same requests
(issue 20's benchmark; not a test). Run from the repository root, with the
package installed (`pip install ".[arrow]"`) and the release binary built:

    python benches/python_arrow.py [--bundle corpus/eks/bundle.json] [--requests 100000] [--threads 2]

The requests are `iamsim gen-requests --seed 1` for the bundle, the same ones
`iamsim bench --seed 1` decides; its parallel rate on --threads is the Rust
batch figure. Prints rows/s of decide_arrow (best of 3 passes, the table
built beforehand; contexts as JSON text and as a struct column) and the Rust batch, run back to back for --rounds rounds
(the median round's figures, and every round's ratio), decide_many and
decide per call.
"""

import argparse
import json
import subprocess
import time

import pyarrow as pa

import iamsim


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default="corpus/eks/bundle.json")
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default="target/release/iamsim")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    n = args.requests
    lines = subprocess.run(
        [args.binary, "gen-requests", "--bundle", args.bundle, "--count", str(n), "--seed", "1"],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    table = pa.table({
        "principal": [r["principal"] for r in rows],
        "action": [r["action"] for r in rows],
        "resource": [r["resource"] for r in rows],
        "resource_account": pa.array([r.get("resource_account") for r in rows], pa.string()),
        "context": [json.dumps(r["context"]) if r.get("context") else None for r in rows],
    })
    # The same contexts as a struct column (fields = keys): no JSON per row.
    struct_table = table.set_column(
        table.column_names.index("context"), "context", pa.array([r.get("context") for r in rows])
    )
    compiled = iamsim.PolicySet.from_bundle(open(args.bundle).read(), name=args.bundle).compile()

    def rust_batch():
        rust = json.loads(subprocess.run(
            [args.binary, "bench", "--bundle", args.bundle, "--requests", str(n), "--seed", "1",
             "--threads", str(args.threads), "--format", "json"],
            check=True, capture_output=True, text=True,
        ).stdout)
        return next(s["per_sec"] for s in rust["scaling"] if s["threads"] == args.threads), rust["parse_per_sec"]

    # This VM's speed drifts over seconds: the Arrow passes and the Rust
    # batch run back to back, several rounds; the ratio is the median of
    # the rounds' ratios.
    rounds = []
    for _ in range(args.rounds):
        arrow_rate = n / best_of(3, lambda: compiled.decide_arrow(table))
        struct_rate = n / best_of(3, lambda: compiled.decide_arrow(struct_table))
        rust_rate, rust_parse = rust_batch()
        rounds.append((arrow_rate, rust_rate, rust_parse, struct_rate))
    by_ratio = sorted(rounds, key=lambda r: r[0] / r[1])
    arrow_rate, rust_batch_rate, rust_parse, _ = by_ratio[len(by_ratio) // 2]
    by_ratio = sorted(rounds, key=lambda r: r[3] / r[1])
    struct_rate, struct_rust_rate = by_ratio[len(by_ratio) // 2][3], by_ratio[len(by_ratio) // 2][1]
    assert compiled.decide_arrow(struct_table).equals(compiled.decide_arrow(table)), "struct and JSON contexts disagree"
    requests = [iamsim.Request.from_json(line) for line in lines]
    many_s = best_of(3, lambda: compiled.decide_many(requests))
    sample = requests[:20_000]
    per_call_s = best_of(3, lambda: [compiled.decide(r) for r in sample]) * (n / len(sample))
    # Same answers: the Arrow path against decide, on every row.
    arrow_kinds = compiled.decide_arrow(table).column("decision").to_pylist()
    assert arrow_kinds == [d.kind for d in compiled.decide_many(requests)], "decide_arrow disagrees with decide_many"
    figures = {
        "requests": n,
        "decide_arrow_per_sec": arrow_rate,
        "decide_many_per_sec": n / many_s,
        "decide_per_call_per_sec": n / per_call_s,
        "rust_batch_per_sec": rust_batch_rate,
        "rust_parse_eval_lines_per_sec_1_thread": rust_parse,
        "decide_arrow_vs_rust_batch": arrow_rate / rust_batch_rate,
        "rounds_decide_arrow_vs_rust_batch": [round(a / r, 3) for a, r, _, _ in rounds],
        "decide_arrow_struct_context_per_sec": struct_rate,
        "decide_arrow_struct_context_vs_rust_batch": struct_rate / struct_rust_rate,
        "rounds_decide_arrow_struct_context_vs_rust_batch": [round(s / r, 3) for _, r, _, s in rounds],
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
