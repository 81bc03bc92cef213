#!/bin/sh
# `make fuzz`: every fuzz target for FUZZ_SECONDS seconds each (default 60), starting from
# the committed seed corpus (fuzz/corpus/<target>/, never written to: what the fuzzer finds
# goes to fuzz/target/corpus/<target>/). Needs a nightly toolchain and cargo-fuzz. Prints the
# executions each target reached; exits 1 if any target found a crash, naming its input.
set -u
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"client_hello first_bytes credentials ticket_keys https_request cli_args"}
toolchain=${FUZZ_TOOLCHAIN:-nightly}

if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
    echo "make fuzz needs cargo-fuzz on a nightly toolchain:" >&2
    echo "    rustup toolchain install nightly && cargo install cargo-fuzz" >&2
    exit 2
fi

mkdir -p target/logs
failed=""
for target in $targets; do
    mkdir -p "target/corpus/$target"
    log="target/logs/$target.log"
    echo "== $target: ${seconds}s"
    cargo "+$toolchain" fuzz run "$target" "target/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$status" -eq 0 ]; then
        echo "   ok: ${runs:-?} executions, corpus $(ls "target/corpus/$target" | wc -l) inputs"
    else
        failed="$failed $target"
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo "   FAILED after ${runs:-?} executions (log: fuzz/$log)"
        tail -n 30 "$log" | sed 's/^/   | /'
        if [ -n "$artifact" ]; then
            echo "   the input: $artifact; keep it as a regression test:"
            echo "       cp $artifact fuzz/regressions/$target/<what-it-found>"
        fi
    fi
done

if [ -n "$failed" ]; then
    echo "fuzzing found faults in:$failed" >&2
    exit 1
fi
