package pathtrace

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vnetpath/vnetpath/internal/identity"
)

// RecordSize is sizeof(struct vnet_trace_event).
const RecordSize = 144

// Offsets in struct vnet_trace_event (little-endian); the layout test checks
// them against bpf2go's Go type.
const (
	offTs      = 0
	offStart   = 8
	offHash    = 16
	offSkb     = 24
	offFlow    = 32
	offNetns   = 88
	offIfindex = 92
	offPID     = 96
	offTID     = 100
	offCPU     = 104
	offLen     = 108
	offReason  = 112
	offSRTT    = 116
	offCwnd    = 120
	offHop     = 124
	offFlags   = 126
	offComm    = 128
)

// ErrMalformed is wrapped by every error Decode returns.
var ErrMalformed = errors.New("malformed trace record")

// Decode's errors, made once so that rejecting a record allocates nothing.
var (
	ErrLength = fmt.Errorf("%w: not %d bytes", ErrMalformed, RecordSize)
	ErrHop    = fmt.Errorf("%w: hop not in 1..10", ErrMalformed)
	ErrFlags  = fmt.Errorf("%w: unknown flag bits", ErrMalformed)
	ErrTimes  = fmt.Errorf("%w: start_ns after ts_ns", ErrMalformed)

	// identity.ParseFlow's errors, wrapped; errors.Is finds both.
	flowErrors = func() map[error]error {
		m := map[error]error{}
		for _, e := range []error{identity.ErrFlowLength, identity.ErrFamily, identity.ErrProto, identity.ErrPadding} {
			m[e] = fmt.Errorf("%w: %w", ErrMalformed, e)
		}
		return m
	}()
)

// Decode checks one record and reads it into ev. It accepts exactly what
// the kernel writes: 144 bytes, a known hop and flags, start <= end, and a
// flow identity.ParseFlow accepts. On error ev is left as it was.
func Decode(b []byte, ev *Event) error {
	if len(b) != RecordSize {
		return ErrLength
	}
	le := binary.LittleEndian
	hop := Hop(le.Uint16(b[offHop:]))
	if hop < HopHostRx || hop > HopTCPXmit {
		return ErrHop
	}
	flags := Flags(le.Uint16(b[offFlags:]))
	if flags&^knownFlags != 0 {
		return ErrFlags
	}
	ts, start := le.Uint64(b[offTs:]), le.Uint64(b[offStart:])
	if start > ts {
		return ErrTimes
	}
	if err := identity.ParseFlow(b[offFlow:offNetns], &ev.Flow); err != nil {
		if w, ok := flowErrors[err]; ok {
			return w
		}
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	ev.TsNs = ts
	ev.StartNs = start
	ev.Hash = le.Uint64(b[offHash:])
	ev.Skb = le.Uint64(b[offSkb:])
	ev.Netns = le.Uint32(b[offNetns:])
	ev.Ifindex = le.Uint32(b[offIfindex:])
	ev.PID = le.Uint32(b[offPID:])
	ev.TID = le.Uint32(b[offTID:])
	ev.CPU = le.Uint32(b[offCPU:])
	ev.Len = le.Uint32(b[offLen:])
	ev.Reason = le.Uint32(b[offReason:])
	ev.SRTTus = le.Uint32(b[offSRTT:])
	ev.SndCwnd = le.Uint32(b[offCwnd:])
	ev.Hop = hop
	ev.Flags = flags
	copy(ev.Comm[:], b[offComm:RecordSize])
	return nil
}

// Bytes is ev as the kernel writes it: for replay files and tests.
func (ev *Event) Bytes() [RecordSize]byte {
	var b [RecordSize]byte
	le := binary.LittleEndian
	le.PutUint64(b[offTs:], ev.TsNs)
	le.PutUint64(b[offStart:], ev.StartNs)
	le.PutUint64(b[offHash:], ev.Hash)
	le.PutUint64(b[offSkb:], ev.Skb)
	flow := ev.Flow.Bytes()
	copy(b[offFlow:offNetns], flow[:])
	le.PutUint32(b[offNetns:], ev.Netns)
	le.PutUint32(b[offIfindex:], ev.Ifindex)
	le.PutUint32(b[offPID:], ev.PID)
	le.PutUint32(b[offTID:], ev.TID)
	le.PutUint32(b[offCPU:], ev.CPU)
	le.PutUint32(b[offLen:], ev.Len)
	le.PutUint32(b[offReason:], ev.Reason)
	le.PutUint32(b[offSRTT:], ev.SRTTus)
	le.PutUint32(b[offCwnd:], ev.SndCwnd)
	le.PutUint16(b[offHop:], uint16(ev.Hop))
	le.PutUint16(b[offFlags:], uint16(ev.Flags))
	copy(b[offComm:], ev.Comm[:])
	return b
}
