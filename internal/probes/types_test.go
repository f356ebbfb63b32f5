package probes

import (
	"encoding/binary"
	"testing"
)

// TestTypesMatchTheObjects: each Go view has the size of the key or value
// the objects' maps declare, so a C struct that changes shape fails here
// rather than in a map read at run time.
func TestTypesMatchTheObjects(t *testing.T) {
	views := []struct {
		group, m string
		key, val any // nil: not a Go view
	}{
		{Softirq, "softirq_latency", nil, Hist{}},
		{Softirq, "softirq_duration", nil, Hist{}},
		{NAPI, "napi_counters", DevKey{}, NAPICounters{}},
		{Devices, "dev_counters", DevKey{}, DevCounters{}},
		{Devices, "dev_filter", nil, IDFilter{}},
		{Drops, "drop_devices", DevKey{}, nil},
		{Drops, "drop_counts", DropKey{}, nil},
		{Drops, "drop_filter", nil, IDFilter{}},
		{Drops, "vnet_kfree_skb_nest", nil, Nest{}},
		{Ring, "ring_residence", DevKey{}, Hist{}},
		{Ring, "ring_filter", nil, IDFilter{}},
		{Workers, "workers", nil, Worker{}},
		{Workers, "worker_wait", nil, Hist{}},
		{Workers, "worker_runtime", nil, Hist{}},
		{Workers, "worker_filter", nil, IDFilter{}},
		{KVM, "kvm_counters", nil, KVMCounters{}},
		{TCP, "tcp_srtt", nil, Hist{}},
		{Trace, "trace_devices", DevKey{}, nil},
		{Trace, "trace_filter", nil, IDFilter{}},
		{Trace, "vnet_trace_drop_nest", nil, Nest{}},
	}
	checked := 0
	for _, kind := range []Kind{Host, Guest} {
		for _, g := range registry[kind] {
			cs, err := g.load()
			if err != nil {
				t.Fatalf("load %s: %v", g.name, err)
			}
			for _, v := range views {
				if v.group != g.name {
					continue
				}
				checked++
				ms := cs.Maps[v.m]
				if ms == nil {
					t.Errorf("%s (kind %d) has no map %s", g.name, kind, v.m)
					continue
				}
				if v.key != nil && uint32(binary.Size(v.key)) != ms.KeySize {
					t.Errorf("%s key: %T is %d bytes, the map's %d", v.m, v.key, binary.Size(v.key), ms.KeySize)
				}
				if v.val != nil && uint32(binary.Size(v.val)) != ms.ValueSize {
					t.Errorf("%s value: %T is %d bytes, the map's %d", v.m, v.val, binary.Size(v.val), ms.ValueSize)
				}
			}
		}
	}
	// Drops and Trace are in both kinds' registries.
	if want := len(views) + 4 + 3; checked != want {
		t.Errorf("checked %d views, want %d", checked, want)
	}
}
