package sharedcomp

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestMap(t *testing.T) {
	var m Map[string, int]
	made := 0
	var forgetA func()
	create := func(forget func()) *int {
		made++
		forgetA = forget
		v := made
		return &v
	}
	a1 := m.Get("a", create)
	a2 := m.Get("a", create)
	if a1 != a2 || made != 1 {
		t.Fatalf("same key made %d values", made)
	}
	m.Get("b", func(func()) *int { v := 9; return &v })
	if m.Len() != 2 {
		t.Fatalf("len %d", m.Len())
	}
	forgetA()
	if m.Len() != 1 {
		t.Fatalf("forgotten value still held: len %d", m.Len())
	}
	if a3 := m.Get("a", create); a3 == a1 || *a3 != 2 {
		t.Fatalf("after forget, got the old value")
	}
}

func TestRefsAndHandle(t *testing.T) {
	var refs Refs
	starts, stops := 0, 0
	start := func(context.Context) error { starts++; return nil }
	stop := func(context.Context) error { stops++; return nil }
	h1 := &Handle{Acquire: func(ctx context.Context) error { return refs.Acquire(ctx, start) }, Release: func(ctx context.Context) error { return refs.Release(ctx, stop) }}
	h2 := &Handle{Acquire: h1.Acquire, Release: h1.Release}
	ctx := context.Background()
	if err := h2.Shutdown(ctx); err != nil || stops != 0 {
		t.Fatalf("shutdown before start released: %v, %d stops", err, stops)
	}
	for _, h := range []*Handle{h1, h2} {
		if err := h.Start(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if starts != 1 {
		t.Fatalf("two pipelines started the instance %d times", starts)
	}
	_ = h1.Shutdown(ctx)
	_ = h1.Shutdown(ctx)
	if stops != 0 {
		t.Fatal("stopped while a pipeline still holds it")
	}
	_ = h2.Shutdown(ctx)
	if stops != 1 {
		t.Fatalf("%d stops, want 1", stops)
	}
	failing := &Handle{Acquire: func(ctx context.Context) error {
		return refs.Acquire(ctx, func(context.Context) error { return errors.New("no") })
	}, Release: h1.Release}
	if err := failing.Start(ctx, nil); err == nil {
		t.Fatal("a failed start succeeded")
	}
	_ = failing.Shutdown(ctx)
	if stops != 1 {
		t.Fatal("a failed start was released")
	}
}

// TestTracesHandle: the trace reader runs inside the traces pipeline's own
// start and shutdown, whichever pipeline loads and unloads the instance; a
// reader that fails to start releases what its start acquired.
func TestTracesHandle(t *testing.T) {
	var refs Refs
	var log []string
	load := func(context.Context) error { log = append(log, "load"); return nil }
	unload := func(context.Context) error { log = append(log, "unload"); return nil }
	acquire := func(ctx context.Context) error { return refs.Acquire(ctx, load) }
	release := func(ctx context.Context) error { return refs.Release(ctx, unload) }
	metrics := &Handle{Acquire: acquire, Release: release}
	traces := TracesHandle(acquire, release,
		func() error { log = append(log, "reader on"); return nil },
		func() error { log = append(log, "reader off"); return nil })
	ctx := context.Background()
	for _, h := range []*Handle{metrics, traces} {
		if err := h.Start(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := traces.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	log = append(log, "traces exporter off")
	if err := metrics.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"load", "reader on", "reader off", "traces exporter off", "unload"}
	if !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}

	log = nil
	broken := TracesHandle(acquire, release, func() error { return errors.New("no ring buffer") },
		func() error { log = append(log, "reader off"); return nil })
	err := broken.Start(ctx, nil)
	if err == nil || err.Error() != "tracing: no ring buffer" {
		t.Fatalf("start: %v", err)
	}
	if want := []string{"load", "reader off", "unload"}; !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
	if err := broken.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown after a failed start: %v", err)
	}
}
