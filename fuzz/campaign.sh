#!/usr/bin/env bash
# A long fuzz campaign: every target for SECONDS each (default 600), corpora
# kept in fuzz/corpus/<target> (seeded from ../corpus), final libFuzzer stats
# (executions, coverage) appended to fuzz/campaign.log. Crashes land in
# fuzz/artifacts/<target>/; minimize them into corpus/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O -s none
for target in parse_policy wildcard_vs_regex compiled_vs_reference cloudtrail_reader arn_roundtrip; do
  mkdir -p "corpus/$target"
  cp -n ../corpus/policies/*.json ../corpus/replay/cloudtrail/lake-export.jsonl ../corpus/regressions/*/* ../corpus/seeds/*/* "corpus/$target/" 2>/dev/null || true
  echo "== $target $(date -u +%FT%TZ) ${seconds}s" >> campaign.log
  cargo fuzz run -O -s none "$target" "corpus/$target" -- -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 2>&1 \
    | grep -E "^(stat::|#[0-9]+[[:space:]]+DONE|==[0-9]+== ERROR|SUMMARY)" >> campaign.log || echo "$target: exit $?" >> campaign.log
done
