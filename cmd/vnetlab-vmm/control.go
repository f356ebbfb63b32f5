package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// vmm is the state the control protocol acts on.
type vmm struct {
	w       *worker
	hostFD  int
	sigusr1 atomic.Uint64

	mu     sync.Mutex // serialises changes, so each sync waits for its own kick
	filter vmmctl.FilterMode
}

func (v *vmm) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go v.handle(conn)
	}
}

func (v *vmm) handle(conn net.Conn) {
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 4096), vmmctl.MaxLine)
	enc := json.NewEncoder(conn)
	for sc.Scan() {
		var resp vmmctl.Response
		cmd, err := vmmctl.ParseRequest(sc.Bytes())
		if err == nil {
			resp.Stats, err = v.apply(cmd)
		}
		resp.OK = err == nil
		if err != nil {
			resp.Error = err.Error()
		}
		if enc.Encode(resp) != nil {
			return
		}
	}
}

func (v *vmm) apply(c vmmctl.Command) (*vmmctl.Stats, error) {
	if c.Op == vmmctl.OpStats {
		s := v.stats()
		return &s, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch c.Op {
	case vmmctl.OpPause, vmmctl.OpResume:
		for _, h := range v.halves(c.Dir) {
			h.paused.Store(c.Op == vmmctl.OpPause)
		}
	case vmmctl.OpDelay:
		v.w.delay.Store(int64(c.Delay))
	case vmmctl.OpDropEvery:
		h := v.halves(c.Dir)[0]
		h.dropEvery.Store(c.N)
		h.sinceSet.Store(0)
	case vmmctl.OpTapFilter:
		if err := setTapFilter(v.hostFD, c.Filter); err != nil {
			return nil, err
		}
		v.filter = c.Filter
		return nil, nil
	default:
		return nil, errors.New("unhandled op " + string(c.Op))
	}
	return nil, v.w.sync()
}

func (v *vmm) halves(d vmmctl.Direction) []*half {
	switch d {
	case vmmctl.ToGuest:
		return []*half{&v.w.toGuest}
	case vmmctl.FromGuest:
		return []*half{&v.w.fromGuest}
	}
	return []*half{&v.w.toGuest, &v.w.fromGuest}
}

func (v *vmm) stats() vmmctl.Stats {
	v.mu.Lock()
	filter := v.filter
	v.mu.Unlock()
	return vmmctl.Stats{
		ToGuest:   v.w.toGuest.stats(),
		FromGuest: v.w.fromGuest.stats(),
		SIGUSR1:   v.sigusr1.Load(),
		WorkerTID: int(v.w.tid.Load()),
		Delay:     time.Duration(v.w.delay.Load()).String(),
		TapFilter: filter,
	}
}
