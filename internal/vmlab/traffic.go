package vmlab

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Endpoint is where traffic starts or ends: a netns and an address in it.
type Endpoint struct {
	Netns string // netns bind-mount path
	IP    netip.Addr
}

// Client is the client netns end of the lab.
func (l *Lab) Client() Endpoint { return Endpoint{Netns: l.ClientNetnsPath(), IP: l.ClientIP} }

// Guest is the VM's end: its netns and address.
func (vm *VM) Guest() Endpoint { return Endpoint{Netns: vm.NetnsPath(), IP: vm.IP} }

// UDPReceiver counts the datagrams arriving on a socket, from the moment it
// is opened until Close.
type UDPReceiver struct {
	conn    *net.UDPConn
	packets atomic.Uint64
	done    chan struct{}
}

// udpRcvBuf is big enough that the receiver socket never drops in a test burst.
const udpRcvBuf = 8 << 20

// ListenUDP opens a counting receiver at ep (port 0: any free port).
func ListenUDP(ep Endpoint, port int) (*UDPReceiver, error) {
	var conn *net.UDPConn
	err := InNetns(ep.Netns, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ep.IP, uint16(port))))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("udp receiver at %s: %w", ep.IP, err)
	}
	if err := forceRcvBuf(conn, udpRcvBuf); err != nil {
		conn.Close()
		return nil, fmt.Errorf("udp receiver at %s: %w", ep.IP, err)
	}
	r := &UDPReceiver{conn: conn, done: make(chan struct{})}
	go r.loop()
	return r, nil
}

// forceRcvBuf sets the receive buffer past net.core.rmem_max (we are root).
func forceRcvBuf(conn *net.UDPConn, n int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_RCVBUFFORCE: %w", serr)
	}
	return nil
}

func (r *UDPReceiver) loop() {
	defer close(r.done)
	buf := make([]byte, 1<<16)
	for {
		if _, err := r.conn.Read(buf); err != nil {
			return
		}
		r.packets.Add(1)
	}
}

// Addr is the receiver's address, to send to.
func (r *UDPReceiver) Addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Packets is the number of datagrams received so far.
func (r *UDPReceiver) Packets() uint64 { return r.packets.Load() }

// Wait returns once want datagrams arrived or none arrived for settle, with
// the count at that time. Waiting past want catches surplus packets.
func (r *UDPReceiver) Wait(ctx context.Context, want uint64, settle time.Duration) uint64 {
	last, lastChange := r.Packets(), time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		n := r.Packets()
		if n != last {
			last, lastChange = n, time.Now()
		}
		if n >= want || time.Since(lastChange) >= settle {
			return n
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}

// Close stops the receiver.
func (r *UDPReceiver) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}

// UDPSpec is a burst: Count datagrams of Size payload bytes (>= 8: a sequence
// number leads), at Rate datagrams per second (0: as fast as the socket goes).
// Batch > 1 hands the socket that many datagrams per sendmmsg call, the way
// a NIC's poll brings packets in, instead of a syscall for each; it needs
// Rate 0.
type UDPSpec struct {
	Count int
	Size  int
	Rate  float64
	Batch int
}

// SendUDP sends spec from ep to dst and returns how many sends succeeded.
// UDP hides qdisc drops from the sender (no IP_RECVERR), so sent counts what
// left the socket, not what left the device.
func SendUDP(ctx context.Context, from Endpoint, dst netip.AddrPort, spec UDPSpec) (int, error) {
	if spec.Size < 8 || spec.Size > 1472 {
		return 0, fmt.Errorf("udp burst: size %d outside [8, 1472] (one frame each)", spec.Size)
	}
	if spec.Batch > 1 && spec.Rate > 0 {
		return 0, fmt.Errorf("udp burst: batch %d with a rate: batches go as fast as the socket goes", spec.Batch)
	}
	var conn *net.UDPConn
	err := InNetns(from.Netns, func() error {
		var err error
		conn, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from.IP, 0)), net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("udp sender at %s: %w", from.IP, err)
	}
	defer conn.Close()
	if spec.Batch > 1 {
		return sendBatches(ctx, conn, spec)
	}
	payload := make([]byte, spec.Size)
	start := time.Now()
	for i := range spec.Count {
		if spec.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / spec.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		if err := ctx.Err(); err != nil {
			return i, err
		}
		binary.BigEndian.PutUint64(payload, uint64(i))
		if _, err := conn.Write(payload); err != nil {
			return i, fmt.Errorf("udp send %d of %d: %w", i+1, spec.Count, err)
		}
	}
	return spec.Count, nil
}

// sendBatches sends spec.Count datagrams, spec.Batch per sendmmsg call.
func sendBatches(ctx context.Context, conn *net.UDPConn, spec UDPSpec) (int, error) {
	pc := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, spec.Batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, spec.Size)}
	}
	sent := 0
	for sent < spec.Count {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		n := min(spec.Batch, spec.Count-sent)
		for i := range n {
			binary.BigEndian.PutUint64(msgs[i].Buffers[0], uint64(sent+i))
		}
		w, err := pc.WriteBatch(msgs[:n], 0)
		sent += w
		if err != nil {
			return sent, fmt.Errorf("udp send %d of %d: %w", sent+1, spec.Count, err)
		}
	}
	return sent, nil
}

// UDPResult is what a burst sent and what arrived.
type UDPResult struct {
	Sent     int
	Received uint64
}

// UDPBurst sends spec from one endpoint to a fresh receiver at the other and
// waits for the arrivals to settle (no new datagram for settle).
func UDPBurst(ctx context.Context, from, to Endpoint, spec UDPSpec, settle time.Duration) (UDPResult, error) {
	rx, err := ListenUDP(to, 0)
	if err != nil {
		return UDPResult{}, err
	}
	defer rx.Close()
	sent, err := SendUDP(ctx, from, rx.Addr(), spec)
	res := UDPResult{Sent: sent}
	if err != nil {
		return res, err
	}
	res.Received = rx.Wait(ctx, uint64(sent)+1, settle)
	return res, nil
}

// TCPResult is what a TCP transfer sent and what arrived, with a SHA-256 of
// each side's bytes.
type TCPResult struct {
	Sent, Received       int64
	SentSum, ReceivedSum [32]byte
	Elapsed              time.Duration
}

// Exact tells whether every byte arrived unchanged.
func (r TCPResult) Exact() bool { return r.Sent == r.Received && r.SentSum == r.ReceivedSum }

// listenTCP opens a listener at ep on a free port.
func listenTCP(ep Endpoint) (*net.TCPListener, error) {
	var ln *net.TCPListener
	err := InNetns(ep.Netns, func() error {
		var err error
		ln, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ep.IP, 0)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tcp listener at %s: %w", ep.IP, err)
	}
	return ln, nil
}

func dialTCP(ctx context.Context, from Endpoint, to netip.AddrPort) (*net.TCPConn, error) {
	var conn net.Conn
	err := InNetns(from.Netns, func() error {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from.IP, 0))}
		var err error
		conn, err = d.DialContext(ctx, "tcp4", to.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tcp dial %s -> %s: %w", from.IP, to, err)
	}
	return conn.(*net.TCPConn), nil
}

// acceptOne accepts a single connection, bounded by ctx.
func acceptOne(ctx context.Context, ln *net.TCPListener) (*net.TCPConn, error) {
	defer deadlineFrom(ctx, ln)()
	c, err := ln.AcceptTCP()
	if err != nil {
		return nil, fmt.Errorf("tcp accept: %w", err)
	}
	return c, nil
}

// deadlineFrom ends c's blocking calls (I/O, accept) when ctx ends.
func deadlineFrom(ctx context.Context, c interface{ SetDeadline(time.Time) error }) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// TCPBulk sends n bytes of a seeded pseudo-random stream from one endpoint to
// the other over one connection and hashes both ends.
func TCPBulk(ctx context.Context, from, to Endpoint, n int64) (TCPResult, error) {
	ln, err := listenTCP(to)
	if err != nil {
		return TCPResult{}, err
	}
	defer ln.Close()
	start := time.Now()
	type rxResult struct {
		n   int64
		sum [32]byte
		err error
	}
	rxc := make(chan rxResult, 1)
	go func() {
		var r rxResult
		c, err := acceptOne(ctx, ln)
		if err != nil {
			r.err = err
			rxc <- r
			return
		}
		defer c.Close()
		defer deadlineFrom(ctx, c)()
		h := sha256.New()
		r.n, r.err = io.Copy(h, c)
		copy(r.sum[:], h.Sum(nil))
		rxc <- r
	}()
	var res TCPResult
	txErr := func() error {
		c, err := dialTCP(ctx, from, ln.Addr().(*net.TCPAddr).AddrPort())
		if err != nil {
			_ = ln.Close() // unblocks the accept
			return err
		}
		defer c.Close()
		defer deadlineFrom(ctx, c)()
		h := sha256.New()
		src := io.LimitReader(rand.NewChaCha8([32]byte{'v', 'n', 'l'}), n)
		res.Sent, err = io.Copy(io.MultiWriter(c, h), src)
		copy(res.SentSum[:], h.Sum(nil))
		if err != nil {
			return fmt.Errorf("tcp send: %w", err)
		}
		return c.CloseWrite()
	}()
	rx := <-rxc
	res.Received, res.ReceivedSum, res.Elapsed = rx.n, rx.sum, time.Since(start)
	return res, errors.Join(txErr, rx.err)
}

// RRResult counts a request/response exchange.
type RRResult struct {
	Requests, Responses      int // sent by the client, received complete and correct
	BytesSent, BytesReceived int64
}

// TCPRequestResponse runs n request/response rounds on one connection from
// client to server: reqSize bytes up, respSize bytes back, each checked.
func TCPRequestResponse(ctx context.Context, client, server Endpoint, n, reqSize, respSize int) (RRResult, error) {
	if reqSize < 1 || respSize < 1 {
		return RRResult{}, errors.New("tcp rr: sizes must be >= 1")
	}
	ln, err := listenTCP(server)
	if err != nil {
		return RRResult{}, err
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() { srvErr <- serveRR(ctx, ln, reqSize, respSize) }()
	var res RRResult
	cliErr := func() error {
		c, err := dialTCP(ctx, client, ln.Addr().(*net.TCPAddr).AddrPort())
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer c.Close()
		defer deadlineFrom(ctx, c)()
		req, resp := make([]byte, reqSize), make([]byte, respSize)
		for i := range n {
			fill(req, i)
			if _, err := c.Write(req); err != nil {
				return fmt.Errorf("tcp rr request %d: %w", i, err)
			}
			res.Requests++
			res.BytesSent += int64(reqSize)
			if _, err := io.ReadFull(c, resp); err != nil {
				return fmt.Errorf("tcp rr response %d: %w", i, err)
			}
			res.BytesReceived += int64(respSize)
			if !filled(resp, i) {
				return fmt.Errorf("tcp rr response %d: wrong content", i)
			}
			res.Responses++
		}
		return c.CloseWrite()
	}()
	return res, errors.Join(cliErr, <-srvErr)
}

func serveRR(ctx context.Context, ln *net.TCPListener, reqSize, respSize int) error {
	c, err := acceptOne(ctx, ln)
	if err != nil {
		return err
	}
	defer c.Close()
	defer deadlineFrom(ctx, c)()
	req, resp := make([]byte, reqSize), make([]byte, respSize)
	for i := 0; ; i++ {
		if _, err := io.ReadFull(c, req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("tcp rr server, request %d: %w", i, err)
		}
		if !filled(req, i) {
			return fmt.Errorf("tcp rr server, request %d: wrong content", i)
		}
		fill(resp, i)
		if _, err := c.Write(resp); err != nil {
			return fmt.Errorf("tcp rr server, response %d: %w", i, err)
		}
	}
}

// fill and filled mark a message with its round number.
func fill(b []byte, round int) {
	for i := range b {
		b[i] = byte(round + i)
	}
}

func filled(b []byte, round int) bool {
	for i := range b {
		if b[i] != byte(round+i) {
			return false
		}
	}
	return true
}
