# vnetpath: build, generate, test, run.
SHELL := /bin/bash
GO    ?= go
TOOLS := $(CURDIR)/.tools
DIST  := _build/otelcol-vnetpath
export PATH := $(TOOLS):$(PATH)

.PHONY: tools generate vet unit build run test bench deps

## tools: the pinned build tools (ocb, mdatagen, bpf2go) from internal/tools
tools: $(TOOLS)/builder $(TOOLS)/mdatagen $(TOOLS)/bpf2go
$(TOOLS)/builder: internal/tools/go.mod
	cd internal/tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/builder
$(TOOLS)/mdatagen: internal/tools/go.mod
	cd internal/tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen
$(TOOLS)/bpf2go: internal/tools/go.mod
	cd internal/tools && $(GO) build -o $@ github.com/cilium/ebpf/cmd/bpf2go

## generate: bpf2go objects and mdatagen code (needs clang for the BPF part)
generate: tools
	$(GO) generate ./...

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...
