package pathtrace

import (
	"errors"
	"fmt"
	"time"

	"github.com/vnetpath/vnetpath/internal/identity"
)

// DefaultKey is the tracing key both receivers use unless configured: host
// and guest collectors must share it to compute the same trace ids.
const DefaultKey = "vnetpath"

// Settings is the `tracing:` section of the vnet_host and vnet_guest
// receivers.
type Settings struct {
	// Key keys the packet identity hash: trace ids and sampling. Host and
	// guest collectors must use the same key to join their spans.
	Key string `mapstructure:"key"`
	// SamplingRatio is the share of packets followed, decided from the
	// identity hash so every collector picks the same packets.
	SamplingRatio float64 `mapstructure:"sampling_ratio"`
	// AlwaysTraceDrops traces every drop on the watched devices, sampled or
	// not (up to MaxDropsPerSecond), and, on the host, the retransmission
	// of a dropped identity.
	AlwaysTraceDrops bool `mapstructure:"always_trace_drops"`
	// MaxDropsPerSecond caps the drop records per CPU in the kernel.
	MaxDropsPerSecond uint64 `mapstructure:"max_drops_per_second"`
	// MaxSpansPerSecond caps the spans made; what it sheds is counted.
	MaxSpansPerSecond int `mapstructure:"max_spans_per_second"`
	// ServiceName is the resource's service.name.
	ServiceName string `mapstructure:"service_name"`
	// FlushInterval is how long spans wait to be sent as one batch.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// RingBufferSize is the kernel ring buffer's size in bytes (a power of
	// two, at least a page); a full ring buffer loses records, counted.
	RingBufferSize uint32 `mapstructure:"ring_buffer_size"`
	// MaxFollowedPackets bounds the packets followed at once in the kernel.
	MaxFollowedPackets uint32 `mapstructure:"max_followed_packets"`
	// MaxDroppedIdentities bounds the dropped identities remembered for
	// their retransmission (host only).
	MaxDroppedIdentities uint32 `mapstructure:"max_dropped_identities"`
	// RootCacheSize bounds the trace ids whose root span was emitted.
	RootCacheSize int `mapstructure:"root_cache_size"`
}

// DefaultSettings are the defaults of a side.
func DefaultSettings(side Side) Settings {
	s := Settings{
		Key:                  DefaultKey,
		SamplingRatio:        0.001,
		AlwaysTraceDrops:     true,
		MaxDropsPerSecond:    100,
		MaxSpansPerSecond:    10000,
		ServiceName:          DefaultHostService,
		FlushInterval:        time.Second,
		RingBufferSize:       4 << 20,
		MaxFollowedPackets:   16384,
		MaxDroppedIdentities: 16384,
		RootCacheSize:        DefaultRootCacheSize,
	}
	if side == Guest {
		s.ServiceName = DefaultGuestService
	}
	return s
}

// Validate names the field of each error, prefixed with `tracing.`.
func (s Settings) Validate() error {
	var errs []error
	if s.Key == "" {
		errs = append(errs, errors.New("tracing.key: must not be empty"))
	}
	if _, _, err := identity.Sampling(s.SamplingRatio); err != nil {
		errs = append(errs, fmt.Errorf("tracing.sampling_ratio: %w", err))
	}
	if s.MaxSpansPerSecond < 0 || s.MaxSpansPerSecond > maxRate {
		errs = append(errs, fmt.Errorf("tracing.max_spans_per_second: %d outside [0, %d] (0: no limit)", s.MaxSpansPerSecond, maxRate))
	}
	if s.MaxDropsPerSecond == 0 || s.MaxDropsPerSecond > 1<<20 {
		errs = append(errs, fmt.Errorf("tracing.max_drops_per_second: %d outside [1, %d]", s.MaxDropsPerSecond, 1<<20))
	}
	if s.ServiceName == "" {
		errs = append(errs, errors.New("tracing.service_name: must not be empty"))
	}
	if s.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("tracing.flush_interval: must be positive, got %v", s.FlushInterval))
	}
	if n := s.RingBufferSize; n < 4096 || n&(n-1) != 0 || n > 1<<30 {
		errs = append(errs, fmt.Errorf("tracing.ring_buffer_size: %d is not a power of two in [4096, %d]", n, 1<<30))
	}
	for field, v := range map[string]uint32{"tracing.max_followed_packets": s.MaxFollowedPackets, "tracing.max_dropped_identities": s.MaxDroppedIdentities} {
		if v == 0 || v > 1<<22 {
			errs = append(errs, fmt.Errorf("%s: %d outside [1, %d]", field, v, 1<<22))
		}
	}
	if s.RootCacheSize < 1 || s.RootCacheSize > 1<<30 {
		errs = append(errs, fmt.Errorf("tracing.root_cache_size: %d outside [1, %d]", s.RootCacheSize, 1<<30))
	}
	return errors.Join(errs...)
}

// Constants are the settings the trace programs read as constants; the
// kernel's tick rate (trace_hz) is measured separately (probes.KernelHZ).
func (s Settings) Constants() map[string]any {
	k0, k1 := identity.NewKey(s.Key).Words()
	all, threshold, _ := identity.Sampling(s.SamplingRatio)
	return map[string]any{
		"trace_key0": k0, "trace_key1": k1, "trace_threshold": threshold, "trace_all": all,
		"trace_drops": s.AlwaysTraceDrops, "trace_drops_per_sec": s.MaxDropsPerSecond,
	}
}

// MapSizes are the trace programs' map sizes.
func (s Settings) MapSizes() map[string]uint32 {
	return map[string]uint32{
		"trace_events": s.RingBufferSize, "trace_skbs": s.MaxFollowedPackets, "trace_dropped": s.MaxDroppedIdentities,
	}
}
