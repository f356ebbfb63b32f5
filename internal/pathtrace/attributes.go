package pathtrace

import (
	"bytes"
	"net/netip"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vnetpath/vnetpath/internal/identity"
)

// Attribute names: semantic conventions where they exist, vnet.* otherwise.
const (
	attrNetworkType      = "network.type"
	attrNetworkTransport = "network.transport"
	attrSourceAddress    = "source.address"
	attrSourcePort       = "source.port"
	attrDestAddress      = "destination.address"
	attrDestPort         = "destination.port"
	attrInterface        = "network.interface.name"
	attrVM               = "vm.name"
	attrProcessPID       = "process.pid"
	attrThreadID         = "thread.id"
	attrThreadName       = "thread.name"
	attrCPU              = "cpu.logical_number"
	attrHop              = "vnet.hop"
	attrLength           = "vnet.packet.length"
	attrTCPSeq           = "vnet.packet.tcp.seq"
	attrTCPAck           = "vnet.packet.tcp.ack"
	attrIPID             = "vnet.packet.ip.id"
	attrICMPType         = "vnet.packet.icmp.type"
	attrICMPCode         = "vnet.packet.icmp.code"
	attrICMPID           = "vnet.packet.icmp.id"
	attrICMPSeq          = "vnet.packet.icmp.seq"
	attrRetransmission   = "vnet.packet.retransmission"
	attrDropReason       = "vnet.drop.reason"
	attrSRTT             = "vnet.tcp.srtt"
	attrCwnd             = "vnet.tcp.cwnd"
)

// The most attributes a span carries, to size its map once. The identity:
// type, transport, 2 addresses, and at most 4 of ports, TCP seq and ack,
// IP id, ICMP fields. A hop adds hop, length, 3 of attribution, thread id,
// thread name, CPU, retransmission, and 2 of drop reason or TCP state.
const (
	identityAttrs = 8
	hopAttrs      = identityAttrs + 11
)

// putIdentity writes what names the packet: the root span carries these
// alone, every hop span starts with them.
func (a *Assembler) putIdentity(m pcommon.Map, f *identity.Flow) {
	if f.Family == 4 {
		m.PutStr(attrNetworkType, "ipv4")
	} else {
		m.PutStr(attrNetworkType, "ipv6")
	}
	m.PutStr(attrSourceAddress, a.addrs.get(f.Src()))
	m.PutStr(attrDestAddress, a.addrs.get(f.Dst()))
	switch f.Proto {
	case identity.ProtoTCP:
		m.PutStr(attrNetworkTransport, "tcp")
		m.PutInt(attrSourcePort, int64(f.Sport))
		m.PutInt(attrDestPort, int64(f.Dport))
		m.PutInt(attrTCPSeq, int64(f.Seq))
		m.PutInt(attrTCPAck, int64(f.Ack))
	case identity.ProtoUDP:
		m.PutStr(attrNetworkTransport, "udp")
		m.PutInt(attrSourcePort, int64(f.Sport))
		m.PutInt(attrDestPort, int64(f.Dport))
		if f.Family == 4 {
			m.PutInt(attrIPID, int64(f.Aux))
		}
	case identity.ProtoICMP, identity.ProtoICMPv6:
		m.PutStr(attrNetworkTransport, "icmp")
		m.PutInt(attrICMPType, int64(f.Sport))
		m.PutInt(attrICMPCode, int64(f.Dport))
		if isEcho(f) {
			m.PutInt(attrICMPID, int64(f.Seq>>16))
			m.PutInt(attrICMPSeq, int64(f.Seq&0xFFFF))
		}
	}
}

// isEcho: only echo request and reply give bytes 4-7 the meaning id, seq.
func isEcho(f *identity.Flow) bool {
	if f.Proto == identity.ProtoICMP {
		return f.Sport == 0 || f.Sport == 8
	}
	return f.Sport == 128 || f.Sport == 129
}

func renderAddr(a netip.Addr) string { return a.String() }

// renderComm cuts a kernel comm at its NUL.
func renderComm(c [16]byte) string {
	if i := bytes.IndexByte(c[:], 0); i >= 0 {
		return string(c[:i])
	}
	return string(c[:])
}
