//go:build linux

package pathtrace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"go.opentelemetry.io/collector/consumer"
	"go.uber.org/zap"
)

// maxBatch sends a batch early when this many records wait.
const maxBatch = 2048

// Runner moves records from the kernel's ring buffer through an Assembler
// to the next consumer. Its goroutine is the assembler's single owner.
type Runner struct {
	rd     *ringbuf.Reader
	asm    *Assembler
	next   consumer.Traces
	flush  time.Duration
	logger *zap.Logger

	records, rejected, sendErrors atomic.Uint64
	stats                         atomic.Pointer[Stats]
	wg                            sync.WaitGroup
}

// NewRunner reads the ring buffer map events.
func NewRunner(events *ebpf.Map, asm *Assembler, next consumer.Traces, flush time.Duration, logger *zap.Logger) (*Runner, error) {
	rd, err := ringbuf.NewReader(events)
	if err != nil {
		return nil, fmt.Errorf("open trace ring buffer: %w", err)
	}
	r := &Runner{rd: rd, asm: asm, next: next, flush: flush, logger: logger}
	r.stats.Store(&Stats{})
	return r, nil
}

// Start runs the loop until Stop.
func (r *Runner) Start() {
	r.wg.Add(1)
	go r.loop()
}

// Stop ends the loop after sending what was assembled.
func (r *Runner) Stop() error {
	err := r.rd.Close()
	r.wg.Wait()
	return err
}

// Counts reports records decoded, records rejected as malformed, batches
// the next consumer refused, and the assembler's counters.
func (r *Runner) Counts() (records, rejected, sendErrors uint64, stats Stats) {
	return r.records.Load(), r.rejected.Load(), r.sendErrors.Load(), *r.stats.Load()
}

func (r *Runner) loop() {
	defer r.wg.Done()
	var rec ringbuf.Record
	var ev Event
	pending := 0
	// The kernel wakes no reader (BPF_RB_NO_WAKEUP): records are drained
	// when this deadline passes, once per flush interval.
	r.rd.SetDeadline(time.Now().Add(r.flush))
	for {
		err := r.rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			r.send()
			pending = 0
			r.rd.SetDeadline(time.Now().Add(r.flush))
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			r.send()
			return
		case err != nil:
			r.logger.Warn("Reading the trace ring buffer failed", zap.Error(err))
			continue
		}
		if err := Decode(rec.RawSample, &ev); err != nil {
			r.rejected.Add(1)
			continue
		}
		r.records.Add(1)
		r.asm.Add(&ev)
		if pending++; pending >= maxBatch {
			r.send()
			pending = 0
		}
	}
}

func (r *Runner) send() {
	td := r.asm.Flush()
	st := r.asm.Stats()
	r.stats.Store(&st)
	if td.SpanCount() == 0 {
		return
	}
	if err := r.next.ConsumeTraces(context.Background(), td); err != nil {
		r.sendErrors.Add(1)
		r.logger.Warn("Sending packet-path spans failed", zap.Int("spans", td.SpanCount()), zap.Error(err))
	}
}
