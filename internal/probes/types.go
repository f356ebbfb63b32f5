package probes

// Go views of the structs in bpf/vnet.h and the groups' map keys and
// values. TestTypesMatchTheObjects checks their sizes against the maps.

// HistSlots is VNET_HIST_SLOTS: slot s counts values in (2^(s-1), 2^s] ns.
const HistSlots = 40

// Hist is struct vnet_hist.
type Hist struct {
	Slots [HistSlots]uint64
	SumNs uint64
}

// IDFilter is struct vnet_id_filter: bit id % 4096 set when some watched
// device has that ifindex (or worker that TID), a pre-filter before hash
// lookups.
type IDFilter [64]uint64

// Set marks an ifindex.
func (f *IDFilter) Set(ifindex uint32) {
	f[(ifindex>>6)&63] |= 1 << (ifindex & 63)
}

// DevKey is struct vnet_dev_key: a device in a network namespace.
type DevKey struct {
	NetNS   uint32
	Ifindex uint32
}

// DevCounters is the devices group's per-device value.
type DevCounters struct {
	RxPackets, RxBytes, TxPackets, TxBytes uint64
}

// DropKey is the drops group's key.
type DropKey struct {
	Dev    DevKey
	Reason uint32
	_      uint32
}

// NAPICounters is the napi group's per-device value.
type NAPICounters struct {
	Polls, Work, BudgetExhausted uint64
	Name                         [16]byte
}

// Worker is the workers group's per-thread scheduling state.
type Worker struct {
	RunnableSince, CPUNs uint64
}

// KVMCounters is the kvm group's per-VMM value.
type KVMCounters struct {
	MSIIRQs, GSIIRQs, FastMMIO, MMIO, PIO uint64
}

// ErrMapFull is the slot of a group's `<group>_errors` array counting
// inserts refused because a map was full.
const ErrMapFull uint32 = 0

// NestDepth is VNET_NEST_DEPTH.
const NestDepth = 4

// Nest is struct vnet_nest: a primary program's per-CPU stack of the
// events it runs for, and how many events its twin ran the body for.
type Nest struct {
	Keys      [NestDepth]uint64
	Depth     uint32
	_         uint32
	Recovered uint64
}
