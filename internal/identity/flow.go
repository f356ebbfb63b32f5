package identity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// FlowSize is the size of struct vnet_flow in kernel memory.
const FlowSize = 56

// IP protocol numbers a Flow can carry.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Errors ParseFlow returns; it wraps none, so they compare with ==.
var (
	ErrFlowLength = errors.New("flow is not 56 bytes")
	ErrFamily     = errors.New("flow family is not 4 or 6")
	ErrProto      = errors.New("flow protocol is not TCP, UDP, ICMP or ICMPv6")
	ErrPadding    = errors.New("flow padding or unused address bytes are not zero")
)

// Flow mirrors struct vnet_flow in bpf/trace.h field for field (56 bytes,
// same offsets). Addresses are raw network-order bytes, IPv4 in the first 4
// bytes and the rest zero; ports and numbers are host order.
type Flow struct {
	Saddr  [16]byte
	Daddr  [16]byte
	Sport  uint16 // ICMP: type
	Dport  uint16 // ICMP: code
	Family uint8  // 4 or 6
	Proto  uint8  // ProtoTCP, ProtoUDP, ProtoICMP or ProtoICMPv6
	_      uint16
	Seq    uint32 // TCP sequence; ICMP: id<<16 | sequence
	Ack    uint32 // TCP acknowledgment
	Aux    uint32 // UDP over IPv4: IP id; over IPv6: UDP6Aux of the payload
	_      uint32
}

// Bytes is the flow as it lies in kernel memory (little-endian, padding
// zero): the input of SampleHash and TraceID.
func (f Flow) Bytes() [FlowSize]byte {
	var b [FlowSize]byte
	copy(b[0:16], f.Saddr[:])
	copy(b[16:32], f.Daddr[:])
	binary.LittleEndian.PutUint16(b[32:], f.Sport)
	binary.LittleEndian.PutUint16(b[34:], f.Dport)
	b[36] = f.Family
	b[37] = f.Proto
	binary.LittleEndian.PutUint32(b[40:], f.Seq)
	binary.LittleEndian.PutUint32(b[44:], f.Ack)
	binary.LittleEndian.PutUint32(b[48:], f.Aux)
	return b
}

// ParseFlow reads a flow in its kernel layout into f. It accepts exactly
// what the kernel writes, so Bytes gives b back: anything else would hash to
// ids the other side never computes.
func ParseFlow(b []byte, f *Flow) error {
	if len(b) != FlowSize {
		return ErrFlowLength
	}
	family, proto := b[36], b[37]
	if family != 4 && family != 6 {
		return ErrFamily
	}
	switch proto {
	case ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6:
	default:
		return ErrProto
	}
	if b[38]|b[39]|b[52]|b[53]|b[54]|b[55] != 0 {
		return ErrPadding
	}
	if family == 4 && (!zero(b[4:16]) || !zero(b[20:32])) {
		return ErrPadding
	}
	copy(f.Saddr[:], b[0:16])
	copy(f.Daddr[:], b[16:32])
	f.Sport = binary.LittleEndian.Uint16(b[32:])
	f.Dport = binary.LittleEndian.Uint16(b[34:])
	f.Family = family
	f.Proto = proto
	f.Seq = binary.LittleEndian.Uint32(b[40:])
	f.Ack = binary.LittleEndian.Uint32(b[44:])
	f.Aux = binary.LittleEndian.Uint32(b[48:])
	return nil
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Src is the source address; invalid for a flow of unknown family.
func (f Flow) Src() netip.Addr { return f.addr(&f.Saddr) }

// Dst is the destination address; invalid for a flow of unknown family.
func (f Flow) Dst() netip.Addr { return f.addr(&f.Daddr) }

func (f Flow) addr(a *[16]byte) netip.Addr {
	switch f.Family {
	case 4:
		return netip.AddrFrom4([4]byte(a[:4]))
	case 6:
		return netip.AddrFrom16(*a)
	}
	return netip.Addr{}
}

// TCP is the identity of a TCP segment.
func TCP(src, dst netip.AddrPort, seq, ack uint32) (Flow, error) {
	f, err := newFlow(ProtoTCP, src.Addr(), dst.Addr())
	if err != nil {
		return Flow{}, err
	}
	f.Sport, f.Dport, f.Seq, f.Ack = src.Port(), dst.Port(), seq, ack
	return f, nil
}

// UDP is the identity of a UDP datagram; aux is the IP id over IPv4 and
// UDP6Aux of the payload over IPv6.
func UDP(src, dst netip.AddrPort, aux uint32) (Flow, error) {
	f, err := newFlow(ProtoUDP, src.Addr(), dst.Addr())
	if err != nil {
		return Flow{}, err
	}
	f.Sport, f.Dport, f.Aux = src.Port(), dst.Port(), aux
	return f, nil
}

// ICMP is the identity of an ICMP (IPv4) or ICMPv6 (IPv6) message; id and
// seq are the header's bytes 4-7 (an echo's identifier and sequence).
func ICMP(src, dst netip.Addr, typ, code uint8, id, seq uint16) (Flow, error) {
	proto := ProtoICMP
	if !src.Is4() {
		proto = ProtoICMPv6
	}
	f, err := newFlow(proto, src, dst)
	if err != nil {
		return Flow{}, err
	}
	f.Sport, f.Dport, f.Seq = uint16(typ), uint16(code), uint32(id)<<16|uint32(seq)
	return f, nil
}

// UDP6Aux folds the first 8 bytes of a UDP payload over IPv6 as the kernel
// does; bytes missing from a shorter payload count as zero on both sides.
func UDP6Aux(payload []byte) uint32 {
	var p [8]byte
	copy(p[:], payload)
	a := binary.LittleEndian.Uint32(p[0:])
	b := binary.LittleEndian.Uint32(p[4:])
	return a ^ (b * 0x9E3779B1)
}

func newFlow(proto uint8, src, dst netip.Addr) (Flow, error) {
	var f Flow
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return Flow{}, fmt.Errorf("flow %v -> %v: addresses must be valid and of one family", src, dst)
	}
	f.Proto = proto
	if src.Is4() {
		f.Family = 4
		s, d := src.As4(), dst.As4()
		copy(f.Saddr[:], s[:])
		copy(f.Daddr[:], d[:])
	} else {
		f.Family = 6
		f.Saddr, f.Daddr = src.As16(), dst.As16()
	}
	return f, nil
}
