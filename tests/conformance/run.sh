#!/usr/bin/env bash
# Opt-in differential conformance test against @cloud-copilot/iam-simulate:
# installs it with npm into a temporary folder (needs node and npm), then runs
# the ignored test tests/conformance.rs::agrees_with_iam_simulate.
#   tests/conformance/run.sh [CASES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm init -y >/dev/null && npm install --silent @cloud-copilot/iam-simulate >/dev/null)
cp tests/conformance/iam-simulate-runner.mjs "$dir/"
echo "iam-simulate $(node -p "require('$dir/node_modules/@cloud-copilot/iam-simulate/package.json').version")"
IAMSIM_IAM_SIMULATE_DIR="$dir" IAMSIM_CONFORMANCE_CASES="${1:-3000}" IAMSIM_CONFORMANCE_SEED="${2:-1}" \
  cargo test --release --test integration conformance::agrees_with_iam_simulate -- --ignored --nocapture
