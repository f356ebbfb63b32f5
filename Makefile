# vnetpath: build, generate, test, run.
SHELL := /bin/bash
GO    ?= go
TOOLS := $(CURDIR)/.tools
DIST  := _build/otelcol-vnetpath
export PATH := $(TOOLS):$(PATH)
# The privileged tests fail rather than skip when root or BTF is missing:
# make test runs as root, where a skip would hide a test that must run.
# VNETPATH_TEST_STRICT= make unit runs the rest unprivileged.
export VNETPATH_TEST_STRICT ?= 1

# Debian packages the tests need at run time, and those `make generate` needs.
TEST_PACKAGES := iproute2 util-linux qemu-system-x86
GEN_PACKAGES  := clang llvm libbpf-dev

DIST_INPUTS := $(shell find . -path ./_build -prune -o -path ./.tools -prune -o \( -name '*.go' -o -name '*.o' \) -print) \
	go.mod go.sum builder-config.yaml

.PHONY: help tools generate check-generated vet unit build smoke test-qemu test run bench fuzz demo demo-qemu deps gen-deps clean

help:
	@echo "make run     build the distribution and run it on this host (root) with deploy/host.yaml"
	@echo "make demo    a 2-VM lab, the collector, a tap ring overflow and its fix, told with figures (root)"
	@echo "make demo-qemu  a real QEMU guest on the lab path, collectors on host and guest (root)"
	@echo "make test    generated-code check, vet, race tests (privileged ones included), distribution build, smoke and QEMU tests, demo"
	@echo "make bench   benchmarks and kernel-side BPF cost"
	@echo "make generate  regenerate bpf2go and mdatagen output (needs clang)"

## tools: the pinned build tools (ocb, mdatagen, bpf2go) from internal/tools
tools: $(TOOLS)/builder $(TOOLS)/mdatagen $(TOOLS)/bpf2go
$(TOOLS)/builder: internal/tools/go.mod
	cd internal/tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/builder
$(TOOLS)/mdatagen: internal/tools/go.mod
	cd internal/tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen
$(TOOLS)/bpf2go: internal/tools/go.mod
	cd internal/tools && $(GO) build -o $@ github.com/cilium/ebpf/cmd/bpf2go

## deps: Debian packages and the tracefs mount the tests need (root)
deps:
	@$(call apt_install,$(TEST_PACKAGES))
	@mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing

gen-deps:
	@$(call apt_install,$(GEN_PACKAGES))

define apt_install
missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
endef

## generate: bpf2go objects and mdatagen code
generate: tools gen-deps
	$(GO) generate ./...

## check-generated: the generated code in the tree is what `make generate` produces
GENERATED = find . -path ./_build -prune -o -path ./.tools -prune -o -type f \( -name '*_bpfel.go' -o -name '*_bpfel.o' \
	-o -name 'generated_*' -o -name documentation.md -o -path '*/internal/metadata/testdata/*' \) -print | sort | xargs sha256sum
check-generated: tools gen-deps
	@$(GENERATED) > .tools/generated.before
	$(GO) generate ./...
	@$(GENERATED) > .tools/generated.after
	@diff .tools/generated.before .tools/generated.after || { echo "generated code is stale: run make generate and commit"; exit 1; }

vet:
	$(GO) vet ./...
	$(GO) vet -tags disttest ./internal/disttest/ ./internal/vmlab/qemu/

unit: deps
	$(GO) test -race -count=1 ./...

## build: the otelcol-vnetpath distribution in _build/
build: $(DIST)
$(DIST): $(DIST_INPUTS) $(TOOLS)/builder
	$(TOOLS)/builder --config builder-config.yaml

smoke: $(DIST) deps
	$(GO) test -tags disttest -count=1 -v ./internal/disttest/ -dist $(CURDIR)/$(DIST)

## test-qemu: the distribution inside a real QEMU guest (Debian kernel, TCG), exporting to a host collector (root)
test-qemu: $(DIST) deps
	$(GO) test -tags disttest -race -count=1 -v -run TestGuestCollectorExportsToHost ./internal/vmlab/qemu/ -dist $(CURDIR)/$(DIST)

test: check-generated vet unit build smoke test-qemu demo

run: $(DIST)
	@[ "$$(id -u)" = 0 ] || { echo "make run needs root (BPF); try: sudo make run"; exit 1; }
	@mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
	@echo "otelcol-vnetpath with deploy/host.yaml"
	@echo "  metrics:        http://127.0.0.1:8889/metrics"
	@echo "  self-telemetry: http://127.0.0.1:8888/metrics"
	exec $(DIST) --config deploy/host.yaml

## bench: budgets. Kernel cost per event and lab throughput (root, vnet_host);
## sli >= 1M points/s per core with 0 allocs per point; user-space decoders.
bench: deps
	@status=0; \
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 5x ./receiver/vnethostreceiver/ || status=1; \
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 -benchtime 2s ./processor/sliprocessor/ ./internal/sli/window/ \
		./internal/discovery/ ./internal/pathtrace/ ./internal/identity/ || status=1; \
	exit $$status

## fuzz: every decoder and parser, 30s each
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParsePrintSymbolic -fuzztime 30s ./internal/kbtf/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/promtext/
	$(GO) test -run '^$$' -fuzz FuzzParseName -fuzztime 30s ./internal/discovery/
	$(GO) test -run '^$$' -fuzz FuzzParseIff -fuzztime 30s ./internal/discovery/
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 30s ./internal/vmlab/vmmctl/
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 30s ./internal/vmlab/guestagent/
	$(GO) test -run '^$$' -fuzz FuzzParseSNMP -fuzztime 30s ./internal/vmlab/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/sli/duration/
	$(GO) test -run '^$$' -fuzz FuzzExplicit -fuzztime 30s ./internal/sli/histo/
	$(GO) test -run '^$$' -fuzz FuzzConfig -fuzztime 30s -fuzzminimizetime 10s ./processor/sliprocessor/
	$(GO) test -run '^$$' -fuzz FuzzExpoIngest -fuzztime 30s -fuzzminimizetime 10s ./processor/sliprocessor/
	$(GO) test -run '^$$' -fuzz FuzzParseFlow -fuzztime 30s ./internal/identity/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./internal/pathtrace/
	$(GO) test -run '^$$' -fuzz FuzzTemplate -fuzztime 30s ./internal/action/
	$(GO) test -run '^$$' -fuzz FuzzCPUList -fuzztime 30s ./internal/action/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./internal/qmp/

## demo: a 2-VM lab, the collector, a tap ring overflow and its fix, told with figures
demo: $(DIST) deps
	@[ "$$(id -u)" = 0 ] || { echo "make demo needs root; try: sudo make demo"; exit 1; }
	$(GO) run ./cmd/vnetdemo -dist $(DIST) -config deploy/demo.yaml

## demo-qemu: a real guest on the lab's path, collector inside and on the host; Ctrl-C tears it down
demo-qemu: $(DIST) deps
	@[ "$$(id -u)" = 0 ] || { echo "make demo-qemu needs root; try: sudo make demo-qemu"; exit 1; }
	$(GO) run ./cmd/vnetlab-qemu -dist $(DIST)

clean:
	rm -rf _build .tools
