# Switchboard. `make run` starts a demo server; `make test` runs every test,
# installing what it needs first.
GO       ?= go
BIN      := bin/switchboard
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
LISTEN   ?= 127.0.0.1:8080
# make run's data directory: empty (the default) means a fresh scratch
# directory each run, so demo users never land in a real ./data.
DATA     ?=
# An execution count, not a duration: a duration races Go's fuzz coordinator
# at the deadline and can fail a run that found nothing.
FUZZTIME ?= 100000x
# FuzzUA sends each input to a running user agent over TCP and UDP and
# waits for its answer (about 1.5 ms an exec).
FUZZTIME_UA ?= 3000x
# FuzzConference drives whole conferences through the call actors (an input
# waits up to 150 ms for calls to settle; minimizing an interesting input
# re-runs it many times, so minimization is capped too).
FUZZTIME_CONF ?= 1000x

.PHONY: all build run deps test-deps test unit fuzz lint fmt-check vet staticcheck generate clean bench bench-deps sdk-deps sdk-test sdk-browser

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/switchboard

deps:
	./scripts/install-deps.sh

# What the tests need beyond deps: PostgreSQL and nats-server.
test-deps:
	./scripts/install-deps.sh --test

# Start the server with demo users alice/101, bob/102, carol/103, in a
# scratch data directory (deleted when the server stops) unless DATA is set.
run: deps build
	@if [ -n "$(DATA)" ]; then exec ./$(BIN) serve --demo --listen $(LISTEN) --data "$(DATA)"; fi; \
	scratch=$$(mktemp -d "$${TMPDIR:-/tmp}/switchboard-demo.XXXXXX"); data=$$scratch/data; \
	echo "demo data directory (scratch, deleted at exit): $$data"; \
	trap 'rm -rf "$$scratch"' EXIT; trap 'exit 130' INT TERM; \
	./$(BIN) serve --demo --listen $(LISTEN) --data "$$data"

# Everything CI checks.
test: test-deps lint unit fuzz sdk-test sdk-browser

SDK := sdk/js

sdk-deps:
	cd $(SDK) && npm ci --no-audit --no-fund --loglevel=error

# The SDK: types, unit tests (fake socket), and a build that must reproduce
# the committed bundle the server embeds (a stale bundle fails here).
sdk-test: sdk-deps
	cd $(SDK) && npm run --silent typecheck && npm test --silent
	cd $(SDK) && npm run --silent build && npm run --silent build:admin
	@git diff --quiet -- internal/web/assets/phone.js || \
		{ echo "internal/web/assets/phone.js is stale: run 'cd sdk/js && npm run build' and commit it"; exit 1; }
	@git diff --quiet -- internal/web/assets/admin || \
		{ echo "internal/web/assets/admin is stale: run 'cd sdk/js && npm run build:admin' and commit it"; exit 1; }

unit:
	$(GO) test -race -count=1 -timeout 25m ./...

# Short fuzz runs of the parsers we own (seed corpora in testdata/fuzz).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeClient$$' -fuzztime $(FUZZTIME) ./internal/protocol
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/route
	$(GO) test -run '^$$' -fuzz '^FuzzLoadWAV$$' -fuzztime $(FUZZTIME) ./audio
	$(GO) test -run '^$$' -fuzz '^FuzzDispatch$$' -fuzztime $(FUZZTIME) ./internal/callwire
	$(GO) test -run '^$$' -fuzz '^FuzzConference$$' -fuzztime $(FUZZTIME_CONF) -fuzzminimizetime 10x ./internal/callwire
	$(GO) test -run '^$$' -fuzz '^FuzzNormalise$$' -fuzztime $(FUZZTIME) ./internal/route
	$(GO) test -run '^$$' -fuzz '^FuzzParseReferTo$$' -fuzztime $(FUZZTIME) ./internal/sipua
	$(GO) test -run '^$$' -fuzz '^FuzzCompat$$' -fuzztime $(FUZZTIME) ./internal/sipua
	$(GO) test -run '^$$' -fuzz '^FuzzSubscribeHeaders$$' -fuzztime $(FUZZTIME) ./internal/sipua
	$(GO) test -run '^$$' -fuzz '^FuzzUA$$' -fuzztime $(FUZZTIME_UA) ./internal/sipua
	$(GO) test -run '^$$' -fuzz '^FuzzFlowToken$$' -fuzztime $(FUZZTIME) ./internal/sipua
	$(GO) test -run '^$$' -fuzz '^FuzzRouteSet$$' -fuzztime $(FUZZTIME) ./internal/sipua
	$(GO) test -run '^$$' -fuzz '^FuzzParseCrypto$$' -fuzztime $(FUZZTIME) ./internal/media
	$(GO) test -run '^$$' -fuzz '^FuzzReadRTCP$$' -fuzztime $(FUZZTIME) ./internal/media
	$(GO) test -run '^$$' -fuzz '^FuzzPIDF$$' -fuzztime $(FUZZTIME) ./internal/emergency
	$(GO) test -run '^$$' -fuzz '^FuzzMOS$$' -fuzztime $(FUZZTIME) ./internal/quality
	$(GO) test -run '^$$' -fuzz '^FuzzSlot$$' -fuzztime $(FUZZTIME) ./internal/park
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/recording

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

# Regenerate the SDK's protocol types from internal/protocol.
generate:
	$(GO) test ./internal/protocol -run TypeScript -update

clean:
	rm -rf bin

# Performance (docs/performance.md). bench/suite measures every media and
# setup path against a baseline taken in the same run (a bare UDP relay;
# rtpengine when `make bench-deps` installed it), with the server pinned to
# one core, prints one table against the goals and writes it to
# bench/results/ (about 10 minutes). QUICK=1: small loads, under 2 minutes.
# PROFILE=1: CPU and heap profiles of the server at the highest load, and
# of the relays, in bench/results/profiles/. SEARCH=1: instead, the
# capacity search of every path (about 15 minutes). A full run then measures the
# parts: codecs (audio), a presence change with 1 and 1,000 watchers
# (bench/presence), the Opus encoder at each complexity (bench/opus), and
# WebRTC packets between two endpoints with our interceptors and pion's
# default set (internal/media BenchmarkWebRTCRelay); then a conference's
# mixing cost per participant, Opus and PCMU, 3/5/10 participants
# (internal/media BenchmarkMixer: µs and % of a core per participant).
bench: deps
	$(GO) run ./bench/suite $(if $(QUICK),-quick) $(if $(PROFILE),-profile bench/results/profiles) $(if $(SEARCH),-search)
ifndef QUICK
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./audio
	$(GO) run ./bench/presence -changes 2000
	$(GO) run ./bench/opus
	$(GO) test -run '^$$' -bench WebRTCRelay -benchtime 20000x ./internal/media
	$(GO) test -run '^$$' -bench Mixer -benchtime 2000x ./internal/media
	$(GO) run ./bench/cluster
endif

# What make bench measures beside: rtpengine (userspace) and taskset.
bench-deps: deps
	./scripts/install-deps.sh --bench

# The calling guide's examples and the web softphone in Debian's Chromium
# against a server built from this tree (screenshots in test-artifacts/web).
sdk-browser: sdk-deps
	cd $(SDK) && npm run --silent test:browser
