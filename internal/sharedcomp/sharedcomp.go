// Package sharedcomp shares one receiver instance between the pipelines
// (metrics, traces) that use the same configuration, as contrib's
// sharedcomponent does: its probes load once.
package sharedcomp // import "github.com/vnetpath/vnetpath/internal/sharedcomp"

import "sync"

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
