package pathtrace

import (
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vnetpath/vnetpath/internal/identity"
)

// Side is where the records come from.
type Side uint8

const (
	// Host: vnet_host, whose hops are host.rx to tap.ring and tap.rx,
	// host.tx.
	Host Side = iota + 1
	// Guest: vnet_guest, whose hops are virtio.rx, tcp.rcv, tcp.xmit and
	// virtio.tx.
	Guest
)

func (s Side) String() string {
	switch s {
	case Host:
		return "host"
	case Guest:
		return "guest"
	}
	return "Side(" + strconv.Itoa(int(s)) + ")"
}

// Device is what attribution knows of a hop's device.
type Device struct {
	Interface string // network.interface.name, e.g. the tap
	VM        string // vm.name; "" when the device is not a VM's
	VMMPID    uint32 // process.pid of the VM's VMM; 0 when unknown
}

// Attribution names devices. It is called by the Assembler's owner
// goroutine, once per hop span.
type Attribution interface {
	// Device looks up a device by network namespace inode and ifindex.
	Device(netns, ifindex uint32) (Device, bool)
}

// Defaults of Config's zero fields.
const (
	DefaultHostService   = "vnetpath-host"
	DefaultGuestService  = "vnetpath-guest"
	DefaultRootCacheSize = 65536
	DefaultScope         = "github.com/vnetpath/vnetpath/internal/pathtrace"
)

// Config sets an Assembler up; zero fields take the defaults named.
type Config struct {
	Side Side
	// ServiceName is the resource's service.name: DefaultHostService or
	// DefaultGuestService.
	ServiceName string
	// HostName is the resource's host.name: os.Hostname.
	HostName string
	// ScopeName names the instrumentation scope: DefaultScope.
	ScopeName string
	// Key is the tracing.key every collector of a deployment shares.
	Key identity.Key
	// MaxSpansPerSecond limits the spans made (roots included), with a
	// burst of one second's worth; 0 means no limit.
	MaxSpansPerSecond int
	// RootCacheSize bounds the trace ids remembered as having their root
	// span emitted: DefaultRootCacheSize.
	RootCacheSize int
	// DropReason names enum skb_drop_reason values (e.g. kbtf's names);
	// nil writes the number. A SKB_DROP_REASON_ prefix is cut.
	DropReason func(uint32) string
	// Attribution names devices, VMs and VMMs; nil writes none.
	Attribution Attribution
	// Clock: SystemClock.
	Clock Clock
	// SpanIDs makes hop span ids: RandomSpanIDs.
	SpanIDs SpanIDs
}

// Stats are an Assembler's counters since it was made.
type Stats struct {
	SpansEmitted      uint64 // hop and root spans put into batches
	SpansShed         uint64 // spans refused by MaxSpansPerSecond
	RootsEmitted      uint64 // root spans, included in SpansEmitted
	RootsDeduplicated uint64 // entry-side records whose trace already had its root
	ClockErrors       uint64 // failed clock offset refreshes; the previous offset stayed
	// KeyMismatches counts records whose kernel hash is not
	// identity.SampleHash under Key: the BPF constants trace_key0/1 were not
	// set from this Key, so other collectors sample other packets.
	KeyMismatches uint64
}

// Assembler turns records into spans. One goroutine owns it: nothing in it
// is locked.
type Assembler struct {
	side        Side
	key         identity.Key
	service     string
	host        string
	scope       string
	attribution Attribution
	clock       Clock
	offset      *ClockOffset
	spanIDs     SpanIDs
	limit       tokenBucket
	roots       *rootCache

	addrs    strCache[netip.Addr]
	threads  strCache[[16]byte]
	reasons  strCache[uint32]
	messages strCache[uint32] // Error status messages of drop spans

	batch ptrace.Traces
	spans ptrace.SpanSlice // the batch's; valid while open
	open  bool
	stats Stats
}

// NewAssembler checks cfg and makes an Assembler.
func NewAssembler(cfg Config) (*Assembler, error) {
	a := &Assembler{
		side:        cfg.Side,
		key:         cfg.Key,
		service:     cfg.ServiceName,
		host:        cfg.HostName,
		scope:       cfg.ScopeName,
		attribution: cfg.Attribution,
		clock:       cfg.Clock,
		spanIDs:     cfg.SpanIDs,
		limit:       tokenBucket{rate: int64(cfg.MaxSpansPerSecond)},
		addrs:       newStrCache(renderAddr),
		threads:     newStrCache(renderComm),
	}
	switch cfg.Side {
	case Host:
		a.service = cmp.Or(a.service, DefaultHostService)
	case Guest:
		a.service = cmp.Or(a.service, DefaultGuestService)
	default:
		return nil, fmt.Errorf("assembler config: Side %v: must be Host or Guest", cfg.Side)
	}
	if cfg.MaxSpansPerSecond < 0 || cfg.MaxSpansPerSecond > maxRate {
		return nil, fmt.Errorf("assembler config: MaxSpansPerSecond %d: must be in [0, %d], 0 for no limit", cfg.MaxSpansPerSecond, maxRate)
	}
	if cfg.RootCacheSize < 0 || cfg.RootCacheSize > 1<<30 {
		return nil, fmt.Errorf("assembler config: RootCacheSize %d: must be in [0, 2^30], 0 for %d", cfg.RootCacheSize, DefaultRootCacheSize)
	}
	a.roots = newRootCache(cmp.Or(cfg.RootCacheSize, DefaultRootCacheSize))
	if a.host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host name for host.name: %w", err)
		}
		a.host = h
	}
	a.scope = cmp.Or(a.scope, DefaultScope)
	if a.clock == nil {
		a.clock = SystemClock{}
	}
	a.offset = NewClockOffset(a.clock)
	if a.spanIDs == nil {
		a.spanIDs = RandomSpanIDs()
	}
	name := cfg.DropReason
	if name == nil {
		name = func(r uint32) string { return strconv.FormatUint(uint64(r), 10) }
	}
	a.reasons = newStrCache(func(r uint32) string { return strings.TrimPrefix(name(r), "SKB_DROP_REASON_") })
	a.messages = newStrCache(func(r uint32) string { return "dropped: " + a.reasons.get(r) })
	return a, nil
}

// Add makes the spans of one record: its hop span and, on the entry side,
// the trace's root span when this trace id has none yet. Spans the rate
// limit refuses are counted, not made; a record is never half made. ev is
// not retained.
func (a *Assembler) Add(ev *Event) {
	now := a.clock.Now()
	if err := a.offset.Refresh(now); err != nil {
		a.stats.ClockErrors++
	}
	if ev.Hash != identity.SampleHash(a.key, ev.Flow) {
		a.stats.KeyMismatches++
	}
	trace := identity.TraceID(a.key, ev.Flow)
	entry := a.entersHere(ev)
	needRoot := entry && !a.roots.touch(trace)
	n := uint64(1)
	if needRoot {
		n = 2
	}
	if !a.limit.take(now, int64(n)) {
		a.stats.SpansShed += n
		return
	}
	root := identity.RootSpanID(a.key, trace)
	spans := a.spansOfBatch()
	switch {
	case needRoot:
		a.roots.add(trace)
		a.rootSpan(spans.AppendEmpty(), ev, trace, root)
		a.stats.RootsEmitted++
	case entry:
		a.stats.RootsDeduplicated++
	}
	a.hopSpan(spans.AppendEmpty(), ev, trace, root)
	a.stats.SpansEmitted += n
}

// entersHere: the root belongs to the side where the packet enters the VM
// path, the host for packets to the guest, the guest for packets from it.
func (a *Assembler) entersHere(ev *Event) bool {
	switch ev.Hop {
	case HopHostRx, HopTapEnqueue, HopTapRing:
		return a.side == Host
	case HopVirtioTx, HopTCPXmit:
		return a.side == Guest
	case HopDrop:
		return (ev.Flags&FlagFromGuest != 0) == (a.side == Guest)
	}
	return false
}

// rootSpan fills the trace's root: named "packet", no parent, carrying the
// identity, and spanning the first record seen. It marks where the packet
// entered the path; hops after it end later than it does, which trace
// viewers show as they should.
func (a *Assembler) rootSpan(s ptrace.Span, ev *Event, trace pcommon.TraceID, root pcommon.SpanID) {
	a.startSpan(s, ev, trace, root, "packet", identityAttrs)
}

func (a *Assembler) hopSpan(s ptrace.Span, ev *Event, trace pcommon.TraceID, root pcommon.SpanID) {
	name := ev.Hop.String()
	s.SetParentSpanID(root)
	m := a.startSpan(s, ev, trace, a.spanIDs(), name, hopAttrs)
	m.PutStr(attrHop, name)
	m.PutInt(attrLength, int64(ev.Len))
	if a.attribution != nil {
		if d, ok := a.attribution.Device(ev.Netns, ev.Ifindex); ok {
			if d.Interface != "" {
				m.PutStr(attrInterface, d.Interface)
			}
			if d.VM != "" {
				m.PutStr(attrVM, d.VM)
			}
			if d.VMMPID != 0 {
				m.PutInt(attrProcessPID, int64(d.VMMPID))
			}
		}
	}
	m.PutInt(attrThreadID, int64(ev.TID))
	m.PutStr(attrThreadName, a.threads.get(ev.Comm))
	m.PutInt(attrCPU, int64(ev.CPU))
	if ev.Flags&FlagForced != 0 {
		m.PutBool(attrRetransmission, true)
	}
	switch ev.Hop {
	case HopDrop:
		m.PutStr(attrDropReason, a.reasons.get(ev.Reason))
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage(a.messages.get(ev.Reason))
	case HopTCPRcv:
		m.PutDouble(attrSRTT, float64(ev.SRTTus)/1e6)
		m.PutInt(attrCwnd, int64(ev.SndCwnd))
	}
}

// startSpan fills what root and hop spans share: ids, name, kind, the
// record's times and the packet's identity. It returns the attributes,
// sized for attrs.
func (a *Assembler) startSpan(s ptrace.Span, ev *Event, trace pcommon.TraceID, id pcommon.SpanID, name string, attrs int) pcommon.Map {
	s.SetTraceID(trace)
	s.SetSpanID(id)
	s.SetName(name)
	s.SetKind(ptrace.SpanKindInternal)
	s.SetStartTimestamp(a.offset.Wall(ev.StartNs))
	s.SetEndTimestamp(a.offset.Wall(ev.TsNs))
	m := s.Attributes()
	m.EnsureCapacity(attrs)
	a.putIdentity(m, &ev.Flow)
	return m
}

// spansOfBatch opens a batch at its first span.
func (a *Assembler) spansOfBatch() ptrace.SpanSlice {
	if !a.open {
		a.batch = ptrace.NewTraces()
		rs := a.batch.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", a.service)
		rs.Resource().Attributes().PutStr("host.name", a.host)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(a.scope)
		a.spans = ss.Spans()
		a.open = true
	}
	return a.spans
}

// Flush hands over the spans made since the last Flush; empty Traces when
// there were none.
func (a *Assembler) Flush() ptrace.Traces {
	if !a.open {
		return ptrace.NewTraces()
	}
	a.open = false
	return a.batch
}

// Stats returns the counters.
func (a *Assembler) Stats() Stats { return a.stats }
