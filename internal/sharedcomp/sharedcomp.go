// Package sharedcomp holds what the vnet_host and vnet_guest receivers'
// instances do alike: one instance is shared between the pipelines
// (metrics, traces) that use the same configuration, as contrib's
// sharedcomponent does, so its probes load once; and its probe groups are
// reported the same way.
package sharedcomp // import "github.com/vnetpath/vnetpath/internal/sharedcomp"

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Map holds one value per key until the value forgets itself.
type Map[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*V
}

// Get returns the value for key, creating it with create on first use.
// create gets forget, which the value calls when its last user stops, so a
// reloaded configuration starts afresh.
func (m *Map[K, V]) Get(key K, create func(forget func()) *V) *V {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[key]; ok {
		return v
	}
	if m.m == nil {
		m.m = map[K]*V{}
	}
	v := create(func() {
		m.mu.Lock()
		delete(m.m, key)
		m.mu.Unlock()
	})
	m.m[key] = v
	return v
}

// Len is the number of live values.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// Refs counts the pipelines using a shared instance: the first Acquire
// starts it, the last Release stops it.
type Refs struct {
	mu   sync.Mutex
	refs int
}

// Acquire runs start if no pipeline holds the instance yet.
func (r *Refs) Acquire(ctx context.Context, start func(context.Context) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs == 0 {
		if err := start(ctx); err != nil {
			return err
		}
	}
	r.refs++
	return nil
}

// Release runs stop when the last pipeline lets go; extra releases are no-ops.
func (r *Refs) Release(ctx context.Context, stop func(context.Context) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs == 0 {
		return nil
	}
	if r.refs--; r.refs > 0 {
		return nil
	}
	return stop(ctx)
}

// Handle is a pipeline's component over a shared instance: Start acquires
// it, Shutdown releases it (once, and only after a successful Start).
type Handle struct {
	Acquire, Release func(context.Context) error
	started          bool
}

// Start acquires the instance.
func (h *Handle) Start(ctx context.Context, _ component.Host) error {
	if err := h.Acquire(ctx); err != nil {
		return err
	}
	h.started = true
	return nil
}

// Shutdown releases the instance.
func (h *Handle) Shutdown(ctx context.Context) error {
	if !h.started {
		return nil
	}
	h.started = false
	return h.Release(ctx)
}

// TracesHandle is a traces pipeline's component over a shared instance: it
// starts the instance's trace reader after acquiring the instance and stops
// it before releasing it (stop also undoes a start that failed halfway).
// Spans then flow only while the traces pipeline runs: the collector orders
// start and shutdown by each pipeline's edges alone, so it may start the
// traces exporter after a metrics pipeline loaded the instance, and stop it
// before that pipeline lets the instance go.
func TracesHandle(acquire, release func(context.Context) error, start, stop func() error) *Handle {
	return &Handle{
		Acquire: func(ctx context.Context) error {
			if err := acquire(ctx); err != nil {
				return err
			}
			if err := start(); err != nil {
				return errors.Join(fmt.Errorf("tracing: %w", err), stop(), release(ctx))
			}
			return nil
		},
		Release: func(ctx context.Context) error {
			return errors.Join(stop(), release(ctx))
		},
	}
}
