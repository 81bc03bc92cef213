# tls-server — the commands a newcomer needs. `make run`, then `make test`.
CARGO ?= cargo
ARGS ?=

.PHONY: run test test-ring check layers msrv certs build doc clean bench soak fuzz screenshot

## Start the server on its defaults: 127.0.0.1:8000, certs/server.crt + certs/server.key,
## echo mode. Pass more flags with ARGS="--port 0 --events json".
run:
	$(CARGO) run --release -p tls-server-cli -- serve $(ARGS)

## Every test of the workspace (default provider, aws-lc-rs; with the fuzzers' regression
## inputs), then a smoke test on ring.
test:
	$(CARGO) test --workspace --features tls-server/fuzzing,tls-server/serde
	$(MAKE) test-ring

test-ring:
	$(CARGO) test -p tls-server --no-default-features --features ring --test echo_events

## Formatting, lints (warnings are errors) on both providers and on the embedded build
## (ring, no https, no probe), the layer rules, and docs.
check: layers msrv
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features tls-server/serde -- -D warnings
	$(CARGO) clippy --workspace --all-targets --no-default-features --features ring,https,probe -- -D warnings
	$(CARGO) clippy -p tls-server --lib --no-default-features --features ring -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## The library's layers import only downwards (ARCHITECTURE.md); tests/layers.rs says so.
layers:
	$(CARGO) test -p tls-server --test layers

## The oldest Rust the workspace builds with: Cargo.toml's rust-version, with Cargo.lock
## as committed (installs that toolchain with rustup if missing; its own target folder).
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
msrv:
	rustup toolchain list | grep -q "^$(MSRV)" || rustup toolchain install $(MSRV) --profile minimal
	CARGO_TARGET_DIR=target/msrv $(CARGO) +$(MSRV) check --workspace --all-targets --locked

## Retake docs/handshake-page.png, the README's picture of the HTTPS mode's handshake page,
## with headless Chromium (apt-get install chromium); the test checks the page as it goes.
screenshot:
	UPDATE_SCREENSHOT=1 $(CARGO) test -p tls-server-cli --test https_page -- --nocapture

## Regenerate the demo and test certificates: `tls-server pki certs --set demo` (rcgen),
## then certs/openssl-only.sh for the five files rcgen cannot make (needs openssl).
certs:
	$(CARGO) run -q -p tls-server-cli -- pki certs --set demo
	certs/openssl-only.sh

## Benchmarks: tls-server against Node's tls.Server and a naive rustls server (release
## builds, loopback only, under 10 min; QUICK=1 under 2). Prints tables; writes
## target/bench/results.json (.md). bench/README.md explains every figure.
bench:
	CARGO="$(CARGO)" QUICK="$(QUICK)" bench/run.sh

## The hostile-load soak (loopback only, about SOAK_SECONDS + 3 min; default 600): one
## address flooding the server while another measures its handshakes, then good and hostile
## clients mixed, then SIGTERM. Each figure next to its target; target/soak/results.json.
soak:
	CARGO="$(CARGO)" SOAK_SECONDS="$(SOAK_SECONDS)" bench/soak.sh

## Fuzz every parser of input we do not control, FUZZ_SECONDS each (default 60); needs a
## nightly toolchain and cargo-fuzz. fuzz/README.md: the targets, and what to do with a crash.
fuzz:
	FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzz/run.sh

build:
	$(CARGO) build --release --workspace

doc:
	$(CARGO) doc --no-deps --open

clean:
	$(CARGO) clean
