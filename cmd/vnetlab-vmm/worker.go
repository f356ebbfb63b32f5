package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// batch bounds the frames one direction moves per wakeup, like vhost's weight,
// so one busy direction cannot starve the other or the control kicks.
const batch = 64

// half is one direction of the queue pair: frames read from src, written to dst.
type half struct {
	src, dst  int
	paused    atomic.Bool
	dropEvery atomic.Uint64
	sinceSet  atomic.Uint64 // frames read since drop_every was last set

	framesRead, bytesRead       atomic.Uint64
	framesWritten, bytesWritten atomic.Uint64
	framesDropped, writeErrors  atomic.Uint64
}

func (h *half) stats() vmmctl.DirStats {
	return vmmctl.DirStats{
		FramesRead: h.framesRead.Load(), BytesRead: h.bytesRead.Load(),
		FramesWritten: h.framesWritten.Load(), BytesWritten: h.bytesWritten.Load(),
		FramesDropped: h.framesDropped.Load(), WriteErrors: h.writeErrors.Load(),
		Paused: h.paused.Load(), DropEvery: h.dropEvery.Load(),
	}
}

// worker moves both directions on one OS thread named vhost-<pid>, as a vhost
// worker serves a queue pair.
type worker struct {
	toGuest, fromGuest half
	delay              atomic.Int64 // per frame, ns
	stopping           atomic.Bool
	tid                atomic.Int64
	hdr                int           // virtio_net_hdr bytes before each frame; not counted as frame bytes
	kick               int           // eventfd: wakes the worker for a control change
	acks               chan struct{} // the worker saw the last kick
}

func newWorker(hostFD, guestFD, hdr int) (*worker, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	w := &worker{hdr: hdr, kick: efd, acks: make(chan struct{}, 1)}
	w.toGuest.src, w.toGuest.dst = hostFD, guestFD
	w.fromGuest.src, w.fromGuest.dst = guestFD, hostFD
	return w, nil
}

// sync wakes the worker and waits until it has looked at the control state:
// from then on no frame is moved under the old state.
func (w *worker) sync() error {
	one := uint64(1)
	if _, err := unix.Write(w.kick, (*[8]byte)(unsafe.Pointer(&one))[:]); err != nil {
		return fmt.Errorf("kick worker: %w", err)
	}
	select {
	case <-w.acks:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("worker did not acknowledge within 5s")
	}
}

func (w *worker) stop() error {
	w.stopping.Store(true)
	return w.sync()
}

// run is the worker thread; it returns on stop or when a tap goes away. It
// closes started once the thread is named (or naming failed).
func (w *worker) run(started chan<- error) error {
	// Never unlocked: this thread is the worker for the VMM's lifetime.
	runtime.LockOSThread()
	name := fmt.Sprintf("vhost-%d", os.Getpid())
	b, _ := unix.BytePtrFromString(name) // no NUL in a formatted number
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(b)), 0, 0, 0); err != nil {
		err = fmt.Errorf("name worker thread %s: %w", name, err)
		started <- err
		return err
	}
	w.tid.Store(int64(unix.Gettid()))
	close(started)
	// A GSO frame is up to 64 KiB plus its link and virtio headers.
	buf := make([]byte, 1<<17)
	var cnt [8]byte
	fds := make([]unix.PollFd, 3)
	halves := [2]*half{&w.toGuest, &w.fromGuest}
	for {
		fds[0] = unix.PollFd{Fd: int32(w.kick), Events: unix.POLLIN}
		for i, h := range halves {
			fds[i+1] = unix.PollFd{Fd: -1}
			if !h.paused.Load() {
				fds[i+1] = unix.PollFd{Fd: int32(h.src), Events: unix.POLLIN}
			}
		}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("poll: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			_, _ = unix.Read(w.kick, cnt[:])
			w.ack()
			if w.stopping.Load() {
				return nil
			}
		}
		for i, h := range halves {
			re := fds[i+1].Revents
			if re&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
				return fmt.Errorf("tap fd %d: poll revents %#x (device gone?)", h.src, re)
			}
			if re&unix.POLLIN != 0 {
				w.move(h, buf)
			}
		}
	}
}

// sleep blocks the worker thread itself in the kernel: a Go timer would add
// the runtime's wakeup latency to the delay, and the delay is what tests
// measure the tap ring residence against.
func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}

func (w *worker) ack() {
	select {
	case w.acks <- struct{}{}:
	default:
	}
}

// move carries up to one batch of frames of h; the pause flag is checked per
// frame so a pause takes effect before the next read.
func (w *worker) move(h *half, buf []byte) {
	limit := batch
	if w.delay.Load() > 0 {
		limit = 1 // keep control changes prompt while slowed
	}
	for range limit {
		if h.paused.Load() {
			return
		}
		// A slow worker is late to dequeue: the frame waits in the tap's
		// ring for the delay, as behind a starved vhost thread.
		if d := w.delay.Load(); d > 0 {
			sleep(time.Duration(d))
		}
		n, err := unix.Read(h.src, buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return // EAGAIN: ring empty
		}
		h.framesRead.Add(1)
		h.bytesRead.Add(uint64(n - w.hdr))
		if every := h.dropEvery.Load(); every > 0 && h.sinceSet.Add(1)%every == 0 {
			h.framesDropped.Add(1)
			continue
		}
		if _, err := unix.Write(h.dst, buf[:n]); err != nil {
			h.writeErrors.Add(1)
			continue
		}
		h.framesWritten.Add(1)
		h.bytesWritten.Add(uint64(n - w.hdr))
	}
}
