# linkguard: `make run` to try it, `make test` to check it.
GO       ?= go
BIN      := bin/linkguard
SELFTEST := bin/linkguard-selftest
GEN      := web/static/gen
WASM     := $(GEN)/collector.wasm
WASMEXEC := $(GEN)/wasm_exec.js
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFILES  := $(shell find . -name '*.go' -not -path './node_modules/*' 2>/dev/null)
WEBFILES := $(shell find web/templates web/static -type f -not -path '$(GEN)/*' 2>/dev/null)

.PHONY: all build wasm run test bench perf geoip clean chaos cluster axe redteam screenshots dist image config-doc

all: build

# Our packages, and the runtime's atomic wrappers, are built without
# inlining: the collector runs once per page, and inlining cost it about
# 2 KB (ours) and 8 KB (the wrappers) of its 480 KB brotli budget
# (docs/collector.md).
$(WASM): $(GOFILES)
	@mkdir -p $(GEN)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -gcflags='github.com/linkguard/linkguard/...=-l' -gcflags='internal/runtime/atomic=-l' -ldflags='-s -w' -o $@ ./wasm
	$(GO) run ./web/precompress $@

$(WASMEXEC):
	@mkdir -p $(GEN)
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $@
	$(GO) run ./web/precompress $@

wasm: $(WASM) $(WASMEXEC)

$(BIN): $(GOFILES) $(WEBFILES) $(WASM) $(WASMEXEC)
	@mkdir -p bin
	$(GO) build -trimpath -ldflags='-s -w -X main.version=$(VERSION)' -o $@ ./cmd/linkguard

# linkguard-selftest is `linkguard selftest` with the headless-browser
# step (chromedp), kept out of the server binary; linkguard runs it when it
# lies beside it (docs/operations.md).
$(SELFTEST): $(GOFILES)
	@mkdir -p bin
	$(GO) build -trimpath -ldflags='-s -w' -o $@ ./cmd/linkguard-selftest

build: $(BIN) $(SELFTEST)

# GeoIP databases, when `make geoip` has fetched them.
GEOIP_DIR  := data/geoip
GEOIP_ENV  := $(if $(wildcard $(GEOIP_DIR)/GeoLite2-City.mmdb),LINKGUARD_GEOIP_CITY=$(GEOIP_DIR)/GeoLite2-City.mmdb) \
              $(if $(wildcard $(GEOIP_DIR)/GeoLite2-ASN.mmdb),LINKGUARD_GEOIP_ASN=$(GEOIP_DIR)/GeoLite2-ASN.mmdb)

# Dev mode on 127.0.0.1:8080 with Badger in ./data; prints the dev API key,
# a ready curl line and the demo site's address.
run: build
	LINKGUARD_DEV=1 LINKGUARD_ADMIN_EMAILS=$${LINKGUARD_ADMIN_EMAILS:-admin@example.com} $(GEOIP_ENV) ./$(BIN) serve

# Free GeoIP data from the npm registry, converted to the GeoLite2 schema.
geoip:
	scripts/geoip-fetch $(GEOIP_DIR)

# axe-core (npm), for the accessibility audit of the pages in e2e/: fetched
# into .cache/ (git-ignored), loaded into the pages by the test only.
AXE_VERSION := 4.14.1
AXE         := .cache/axe/node_modules/axe-core/axe.min.js
$(AXE):
	@command -v npm >/dev/null || { echo "the accessibility audit needs npm: apt-get install -y npm"; exit 1; }
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix .cache/axe axe-core@$(AXE_VERSION)

test: wasm $(AXE)
	$(GO) vet ./...
	LINKGUARD_AXE=$(CURDIR)/$(AXE) $(GO) test -race -count=1 -timeout 20m ./...

# The red team of the input paths, every variant (make test runs the
# most careful of each), and the measurement of what tells CDP input from
# a hand: about five minutes of Chromium under Xvfb.
REDTEAM := '^(TestHeadfulCDPKeysNeverConsume|TestStealthCDPKeysNeverConsume|TestHeadfulCDPTapsNeverConsume|TestStealthCDPTapsNeverConsume|TestInputTellsCDPAndX|TestPhoneEmulationTells|TestPersonRealKeysGetOneClick)$$'
redteam: wasm
	LINKGUARD_REDTEAM=1 $(GO) test -count=1 -run $(REDTEAM) -v ./e2e/

# The audit alone: every page state and every console page, light and
# dark, 360 px and desktop, no serious or critical axe-core violation;
# with the overview a newcomer sees after `make run` (the README's).
AUDITS := '^(TestAccessibilityAudit|TestConsoleInChromium|TestNewcomerConsole)$$'
axe: wasm $(AXE)
	LINKGUARD_AXE=$(CURDIR)/$(AXE) $(GO) test -count=1 -run $(AUDITS) -v ./e2e/

# Every page state × width × theme as PNGs in docs/screenshots/ (git-
# ignored), from real Chromium, audited on the way.
SHOTS ?= docs/screenshots
screenshots: wasm $(AXE)
	LINKGUARD_AXE=$(CURDIR)/$(AXE) LINKGUARD_SCREENSHOTS=$(CURDIR)/$(SHOTS) $(GO) test -count=1 -run $(AUDITS) ./e2e/
	@ls $(SHOTS) | wc -l | xargs echo "screenshots in $(SHOTS):"

bench: wasm
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...
	LINKGUARD_MEASURE=1 $(GO) test -count=1 -run '^TestMeasure$$' -v ./e2e/

# The load run: the machine's ceilings and linkguard in the same run, for
# Badger and for Redis, with the ratios (docs/performance.md): the median
# of three rounds, each on fresh stores, then Badger's write paths paced
# at their goals' rates, open loop. Needs wrk and redis-server
# (apt-get install -y wrk redis-server); about 10 minutes.
# PERFFLAGS="-rounds 1" for one round (about 4 minutes), "-stores badger",
# "-duration 20s -cpuprofile /tmp/lg" for longer, profiled runs,
# "-paced-rate 1500" to pace at a rate of your own, "-no-paced" to skip.
perf: wasm
	@command -v wrk >/dev/null || { echo "make perf needs wrk: apt-get install -y wrk"; exit 1; }
	$(GO) run ./cmd/lgperf $(PERFFLAGS)

# Crash rounds: the real binary SIGKILLed under issue and consume load, on
# Badger, on Redis, and with Redis itself crashed between rounds; nothing
# acknowledged may be lost or undone, nothing consumed twice. `make test`
# runs 3 rounds of each; CHAOS_ROUNDS=100 for a long run.
CHAOS_ROUNDS ?= 25
chaos: wasm
	LINKGUARD_CHAOS_ROUNDS=$(CHAOS_ROUNDS) $(GO) test -count=1 -timeout 60m -run '^TestChaos' -v ./chaos/

# Redis Cluster: the store's conformance suite, the one-slot check and two
# instances on a real three-primary cluster (internal/redistest), and
# CHAOS_ROUNDS rounds that SIGKILL the primary of the deployment's slot
# under load. `make test` runs the same with 3 rounds.
cluster: wasm
	LINKGUARD_CHAOS_ROUNDS=$(CHAOS_ROUNDS) $(GO) test -count=1 -timeout 30m -run 'Cluster' -v ./store/redis/ ./chaos/

# Release archives: static binaries with the collector embedded (and
# linkguard-selftest beside linkguard), one archive per platform and
# dist/SHA256SUMS (docs/operations.md).
COMMIT         ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DIST_VERSION   := $(VERSION)
DIST_LDFLAGS   := -s -w -X main.version=$(DIST_VERSION) -X main.commit=$(COMMIT)
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64 windows/amd64
dist: wasm
	rm -rf dist && mkdir -p dist
	set -e; for p in $(DIST_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  d=dist/linkguard_$(DIST_VERSION)_$${os}_$${arch}; mkdir -p $$d; \
	  echo "build $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags='$(DIST_LDFLAGS)' -o $$d/linkguard$$ext ./cmd/linkguard; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags='-s -w' -o $$d/linkguard-selftest$$ext ./cmd/linkguard-selftest; \
	  cp README.md docs/operations.md deploy/linkguard.service $$d/; \
	done
	$(GO) run ./deploy/dist dist
	cd dist && sha256sum -c SHA256SUMS

# OCI image tarballs (no Docker daemon needed), linux/amd64 and arm64:
# `docker load -i dist/linkguard-image-amd64.tar`. The image has no
# Chromium, hence no linkguard-selftest: its selftest skips the browser.
IMAGE_TAG ?= linkguard:$(VERSION)
image: wasm
	mkdir -p dist/image
	set -e; for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags='$(DIST_LDFLAGS)' -o dist/image/linkguard-$$arch ./cmd/linkguard; \
	  $(GO) run ./deploy/image --binary dist/image/linkguard-$$arch --arch $$arch --version $(DIST_VERSION) \
	    --tag $(IMAGE_TAG) --out dist/linkguard-image-$$arch.tar; \
	done

# docs/configuration.md, generated from the config struct and
# cmd/linkguard/configref.go (TestConfigDocFresh fails when it is stale).
config-doc:
	$(GO) run ./cmd/linkguard config --markdown docs/configuration.md

clean:
	rm -rf bin dist $(GEN)
