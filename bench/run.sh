#!/usr/bin/env bash
# `make bench [QUICK=1]`: build the release binaries, then run the interleaved benchmark
# (bench/README.md). Extra driver flags: make bench BENCH_ARGS="--rounds 5 --only node,tcp".
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
started=$(date +%s)

echo "== building (release): tls-server and the bench programs (aws-lc-rs)"
$CARGO build --release -p tls-server-cli -p tls-server-bench
echo "== building (release): tls-server with ring, into target/bench-ring"
$CARGO build --release --no-default-features --features ring --target-dir target/bench-ring \
  -p tls-server-cli -p tls-server-bench

# 5,000 idle connections need 5,000 descriptors in the server and as many in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
  ulimit -n 12000 2>/dev/null || echo "NOTE: ulimit -n is $(ulimit -n); the 5,000-connection scenario may fail"
fi
command -v node >/dev/null 2>&1 || echo "NOTE: node not found: the Node.js peer will be skipped"

args=()
if [ "${QUICK:-}" = 1 ]; then args+=(--quick); fi
# shellcheck disable=SC2206
args+=(${BENCH_ARGS:-})

# The driver starts and stops every server itself (by PID; they also die with it). Should
# it be killed, the trap still stops it, by its PID.
target/release/bench run "${args[@]}" &
driver=$!
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
status=0
wait "$driver" || status=$?
trap - EXIT INT TERM
echo "== make bench finished in $(( $(date +%s) - started )) s (builds included)"
exit "$status"
