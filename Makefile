# tls-server — the commands a newcomer needs. `make run`, then `make test`.
CARGO ?= cargo
ARGS ?=

.PHONY: run test test-ring check certs build doc clean bench

## Start the server on its defaults: 127.0.0.1:8000, certs/server.crt + certs/server.key,
## echo mode. Pass more flags with ARGS="--port 0 --events json".
run:
	$(CARGO) run --release --bin tls-server -- serve $(ARGS)

## Every test (default provider, aws-lc-rs), then a smoke test on the ring provider.
test:
	$(CARGO) test
	$(MAKE) test-ring

test-ring:
	$(CARGO) test --no-default-features --features ring --test echo_events

## Formatting, lints (warnings are errors) and docs.
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --no-default-features --features ring -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

## Regenerate the demo and test certificates (needs the openssl command).
certs:
	certs/generate.sh

## Benchmarks: tls-server against Node's tls.Server and a naive rustls server (release
## builds, loopback only, under 10 min; QUICK=1 under 2). Prints tables; writes
## target/bench/results.json (.md). bench/README.md explains every figure.
bench:
	CARGO="$(CARGO)" QUICK="$(QUICK)" bench/run.sh

build:
	$(CARGO) build --release

doc:
	$(CARGO) doc --no-deps --open

clean:
	$(CARGO) clean
