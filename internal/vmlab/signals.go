package vmlab

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// The open labs of this process, torn down if it gets SIGINT or SIGTERM.
// Signals are process-wide, so this registry is too.
var open = struct {
	sync.Mutex
	labs map[*Lab]struct{}
	sigs chan os.Signal
}{labs: map[*Lab]struct{}{}}

func track(l *Lab) {
	open.Lock()
	defer open.Unlock()
	if open.sigs == nil {
		open.sigs = make(chan os.Signal, 1)
		signal.Notify(open.sigs, syscall.SIGINT, syscall.SIGTERM)
		go closeOnSignal(open.sigs)
	}
	open.labs[l] = struct{}{}
}

func untrack(l *Lab) {
	open.Lock()
	defer open.Unlock()
	delete(open.labs, l)
	if len(open.labs) == 0 && open.sigs != nil {
		signal.Stop(open.sigs)
		close(open.sigs)
		open.sigs = nil
	}
}

// closeOnSignal closes every open lab, then lets the signal do what it would
// have done without us: the process still dies of it.
func closeOnSignal(sigs chan os.Signal) {
	sig, ok := <-sigs
	if !ok {
		return
	}
	open.Lock()
	labs := make([]*Lab, 0, len(open.labs))
	for l := range open.labs {
		labs = append(labs, l)
	}
	open.Unlock()
	for _, l := range labs {
		_ = l.Close() // the process is going down; nobody is left to report to
	}
	signal.Reset(sig)
	_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
}
