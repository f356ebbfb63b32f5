// Package pathtrace turns the kernel's packet-path records (struct
// vnet_trace_event in bpf/trace.h, read from the trace ring buffer) into
// OTLP spans.
//
// Decode checks and reads one record without allocating. An Assembler,
// owned by one goroutine, turns records into spans: one INTERNAL span per
// hop, in the trace identity.TraceID names, parented to the root span
// identity.RootSpanID names. The side where the packet enters the VM path
// (the host for packets to the guest, the guest for packets from it) emits
// that root span, once per trace id it remembers, so host and guest
// collectors that never talk still build one trace per packet.
package pathtrace
