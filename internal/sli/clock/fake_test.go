package clock

import (
	"testing"
	"time"
)

func TestFakeAdvanceDeliversEachTick(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	tk := f.NewTicker(time.Second)
	got := make(chan time.Time, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 3; i++ {
			got <- <-tk.C()
		}
	}()
	f.Advance(3500 * time.Millisecond)
	<-done
	close(got)
	var ticks []time.Time
	for at := range got {
		ticks = append(ticks, at)
	}
	if len(ticks) != 3 {
		t.Fatalf("got %d ticks, want 3", len(ticks))
	}
	for i, at := range ticks {
		if want := start.Add(time.Duration(i+1) * time.Second); !at.Equal(want) {
			t.Errorf("tick %d at %v, want %v", i, at, want)
		}
	}
	if want := start.Add(3500 * time.Millisecond); !f.Now().Equal(want) {
		t.Errorf("now %v, want %v", f.Now(), want)
	}
}

func TestFakeStoppedTickerDoesNotBlock(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tk := f.NewTicker(time.Second)
	tk.Stop()
	f.Advance(5 * time.Second) // must return: nobody reads the stopped ticker
	if got := f.Now(); !got.Equal(time.Unix(5, 0)) {
		t.Fatalf("now %v", got)
	}
}
