//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package probes

// TraceEvent is bpf2go's Go type for struct vnet_trace_event (bpf/trace.h):
// internal/pathtrace's layout test checks its decoder's offsets against it.
// The build constraint is bpf2go's for the objects.
type TraceEvent = traceHostVnetTraceEvent
