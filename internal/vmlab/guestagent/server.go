package guestagent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxSource bounds a SOURCE transfer (16 GiB).
const maxSource = 16 << 30

// Server answers the agent protocol. Its zero value serves INFO for no
// interface and refuses POWEROFF.
type Server struct {
	// Interface is the NIC that INFO reports, e.g. eth0.
	Interface string
	// Sys is the sysfs root; empty means /sys.
	Sys string
	// PowerOff runs after POWEROFF has been answered; nil refuses POWEROFF.
	PowerOff func() error
}

// Serve answers connections on ln until ctx ends, then closes ln and waits
// for the connections in progress.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("guest agent: accept: %w", err)
		}
		wg.Go(func() {
			defer c.Close()
			closeOnDone := context.AfterFunc(ctx, func() { c.Close() })
			defer closeOnDone()
			s.handle(ctx, c)
		})
	}
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	r := bufio.NewReader(io.LimitReader(c, 1<<40)) // the command line, then SINK data
	line, err := r.ReadString('\n')
	if err != nil {
		return // the client went away before saying anything
	}
	req, err := parseRequest(line)
	if err != nil {
		reply(c, Reply{Error: err.Error()})
		return
	}
	switch req.cmd {
	case "INFO":
		info, err := s.info()
		reply(c, Reply{Info: &info, Error: errText(err)})
	case "SINK":
		got, err := Digest(r)
		reply(c, Reply{Transfer: &got, Error: errText(err)})
	case "SOURCE":
		s.source(c, req.n, req.seed)
	case "SPAN":
		ref, err := sendSpan(ctx, req.span[0], req.span[1], req.span[2])
		reply(c, Reply{Span: &ref, Error: errText(err)})
	case "POWEROFF":
		if s.PowerOff == nil {
			reply(c, Reply{Error: "poweroff is not enabled"})
			return
		}
		reply(c, Reply{})
		c.Close() // the client has its answer before the guest goes down
		_ = s.PowerOff()
	}
}

func (s *Server) source(c net.Conn, n int64, seed uint64) {
	sum, err := Digest(Pattern(seed, n))
	if err != nil {
		reply(c, Reply{Error: err.Error()})
		return
	}
	if err := reply(c, Reply{Transfer: &sum}); err != nil {
		return
	}
	_, _ = io.Copy(c, Pattern(seed, n)) // a short stream is the client's to detect
}

func (s *Server) info() (Info, error) {
	sys := s.Sys
	if sys == "" {
		sys = "/sys"
	}
	info := Info{Interface: s.Interface}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return info, fmt.Errorf("uname: %w", err)
	}
	info.Kernel = unix.ByteSliceToString(uts.Release[:])
	if _, err := os.Stat(filepath.Join(sys, "kernel/btf/vmlinux")); err == nil {
		info.BTF = true
	}
	if s.Interface == "" {
		return info, nil
	}
	dev := filepath.Join(sys, "class/net", s.Interface)
	mac, err := os.ReadFile(filepath.Join(dev, "address"))
	if err != nil {
		return info, fmt.Errorf("interface %s: %w", s.Interface, err)
	}
	info.MAC = strings.TrimSpace(string(mac))
	drv, err := os.Readlink(filepath.Join(dev, "device/driver"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("interface %s: driver: %w", s.Interface, err)
	}
	if drv != "" {
		info.Driver = filepath.Base(drv)
	}
	return info, nil
}

func reply(w io.Writer, r Reply) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
