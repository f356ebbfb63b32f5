package clock

import (
	"sync"
	"time"
)

// Fake is a manually advanced clock for tests. Its tickers deliver on
// unbuffered channels, so Advance returns only after every due tick has
// been received: a test knows the consumer has taken each tick.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTicker returns a ticker that fires every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), every: d, next: f.now.Add(d), stop: make(chan struct{})}
	f.tickers = append(f.tickers, t)
	return t
}

// Advance moves time forward by d in steps, delivering each due tick in
// order and blocking until it is received or the ticker is stopped.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	f.mu.Unlock()
	for {
		f.mu.Lock()
		t, at := f.nextDue(end)
		if t == nil {
			f.now = end
			f.mu.Unlock()
			return
		}
		f.now = at
		t.next = at.Add(t.every)
		f.mu.Unlock()
		select {
		case t.c <- at:
		case <-t.stop:
		}
	}
}

// nextDue returns the earliest live ticker due at or before end.
func (f *Fake) nextDue(end time.Time) (*fakeTicker, time.Time) {
	var best *fakeTicker
	live := f.tickers[:0]
	for _, t := range f.tickers {
		if t.stopped() {
			continue
		}
		live = append(live, t)
		if !t.next.After(end) && (best == nil || t.next.Before(best.next)) {
			best = t
		}
	}
	f.tickers = live
	if best == nil {
		return nil, time.Time{}
	}
	return best, best.next
}

type fakeTicker struct {
	c     chan time.Time
	every time.Duration
	next  time.Time
	once  sync.Once
	stop  chan struct{}
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() { t.once.Do(func() { close(t.stop) }) }

func (t *fakeTicker) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}
