#!/usr/bin/env bash
# `make soak [SOAK_SECONDS=600]`: build the release binaries, then run the hostile-load soak
# (bench/soak.rs, bench/README.md): the lockout, the mix for SOAK_SECONDS, SIGTERM. Exits 1
# if a target is missed. Loopback only; every server it starts dies with it.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
started=$(date +%s)

echo "== building (release): tls-server and the bench programs"
$CARGO build --release -p tls-server-cli -p tls-server-bench

# The lockout holds 8 × 256 connections in this process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

target/release/bench soak --seconds "${SOAK_SECONDS:-600}" ${SOAK_ARGS:-} &
driver=$!
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
status=0
wait "$driver" || status=$?
trap - EXIT INT TERM
echo "== make soak finished in $(( $(date +%s) - started )) s (build included)"
exit "$status"
