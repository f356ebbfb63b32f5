package pathtrace

import "github.com/vnetpath/vnetpath/internal/identity"

// Hop is enum vnet_hop: where on the path a record was taken.
type Hop uint16

// The hops, as bpf/trace.h numbers them.
const (
	HopHostRx     Hop = 1  // host softirq: ingress device to the tap's xmit
	HopTapEnqueue Hop = 2  // the tap's xmit into its ring
	HopTapRing    Hop = 3  // in the ring until the VM's worker dequeues
	HopDrop       Hop = 4  // freed with a drop reason
	HopTapRx      Hop = 5  // from the guest: the tap receives in the worker
	HopHostTx     Hop = 6  // from the guest: xmit on the host's way out
	HopVirtioRx   Hop = 7  // guest NIC receive (NAPI)
	HopTCPRcv     Hop = 8  // guest TCP receive (tcp_probe)
	HopVirtioTx   Hop = 9  // guest NIC xmit
	HopTCPXmit    Hop = 10 // guest stack hands a TCP segment to the NIC
)

var hopNames = [...]string{
	HopHostRx:     "host.rx",
	HopTapEnqueue: "tap.enqueue",
	HopTapRing:    "tap.ring",
	HopDrop:       "drop",
	HopTapRx:      "tap.rx",
	HopHostTx:     "host.tx",
	HopVirtioRx:   "virtio.rx",
	HopTCPRcv:     "tcp.rcv",
	HopVirtioTx:   "virtio.tx",
	HopTCPXmit:    "tcp.xmit",
}

// String is the hop's span name, e.g. "tap.ring"; "" for no known hop.
func (h Hop) String() string {
	if h == 0 || int(h) >= len(hopNames) {
		return ""
	}
	return hopNames[h]
}

// Flags is enum vnet_trace_flag.
type Flags uint16

const (
	// FlagForced: followed because its identity was dropped before, not
	// because it was sampled: a retransmission.
	FlagForced Flags = 1
	// FlagFromGuest: sent by the guest (guest -> tap -> host).
	FlagFromGuest Flags = 2

	knownFlags = FlagForced | FlagFromGuest
)

// Event is one decoded struct vnet_trace_event. Times are CLOCK_MONOTONIC
// ns; the hop spans [StartNs, TsNs].
type Event struct {
	TsNs    uint64 // when the hop ended
	StartNs uint64 // when it began; == TsNs for an instant hop
	Hash    uint64 // identity.SampleHash of Flow, as the kernel computed it
	Skb     uint64 // skb address, for debugging
	Flow    identity.Flow
	Netns   uint32 // the hop's device (host.rx: the ingress device, in the tap's netns)
	Ifindex uint32
	PID     uint32 // current task's thread group
	TID     uint32 // current thread
	CPU     uint32
	Len     uint32 // skb->len
	Reason  uint32 // HopDrop: enum skb_drop_reason
	SRTTus  uint32 // HopTCPRcv: smoothed RTT, µs
	SndCwnd uint32 // HopTCPRcv: congestion window, segments
	Hop     Hop
	Flags   Flags
	Comm    [16]byte // current thread's name, NUL-padded
}
