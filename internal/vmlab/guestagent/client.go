package guestagent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Client talks to a guest's agent.
type Client struct {
	// Addr is the agent's address, host:port.
	Addr string
	// Dial opens connections, e.g. from inside the lab's client netns; nil
	// means a plain net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Info asks for the guest NIC's description.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	err := c.do(ctx, "INFO", func(_ net.Conn, r *bufio.Reader) (err error) {
		info, err = readMember(r, "info", func(rep Reply) *Info { return rep.Info })
		return err
	})
	return info, err
}

// Sink sends everything r yields to the guest and returns what was sent and
// what the guest received, each with its SHA-256.
func (c *Client) Sink(ctx context.Context, r io.Reader) (sent, received Transfer, err error) {
	err = c.do(ctx, "SINK", func(conn net.Conn, br *bufio.Reader) error {
		var err error
		if sent, err = copyHashed(conn, r); err != nil {
			return fmt.Errorf("after %d bytes: %w", sent.Bytes, err)
		}
		if err := closeWrite(conn); err != nil {
			return err
		}
		received, err = readMember(br, "transfer", transferOf)
		return err
	})
	return sent, received, err
}

// Source has the guest send n bytes of Pattern(seed, n) and returns what the
// guest says it sent and what arrived, each with its SHA-256.
func (c *Client) Source(ctx context.Context, n int64, seed uint64) (sent, received Transfer, err error) {
	err = c.do(ctx, request{cmd: "SOURCE", n: n, seed: seed}.String(), func(_ net.Conn, br *bufio.Reader) error {
		var err error
		if sent, err = readMember(br, "transfer", transferOf); err != nil {
			return err
		}
		if received, err = Digest(br); err != nil {
			return fmt.Errorf("after %d bytes: %w", received.Bytes, err)
		}
		return nil
	})
	return sent, received, err
}

// Span has the guest export one span named name, carrying nonce in the
// attribute NonceKey, by OTLP/gRPC to endpoint (host:port, plaintext).
func (c *Client) Span(ctx context.Context, endpoint, name, nonce string) (SpanRef, error) {
	for _, f := range []string{endpoint, name, nonce} {
		if f == "" || strings.ContainsAny(f, " \t\r\n") {
			return SpanRef{}, fmt.Errorf("guest agent: SPAN argument %q must be one non-empty word", f)
		}
	}
	var ref SpanRef
	err := c.do(ctx, request{cmd: "SPAN", span: [3]string{endpoint, name, nonce}}.String(), func(_ net.Conn, r *bufio.Reader) (err error) {
		ref, err = readMember(r, "span", func(rep Reply) *SpanRef { return rep.Span })
		return err
	})
	return ref, err
}

// PowerOff asks the guest to shut down cleanly; it returns once the agent
// has accepted, before the guest is down.
func (c *Client) PowerOff(ctx context.Context) error {
	return c.do(ctx, "POWEROFF", func(conn net.Conn, r *bufio.Reader) error {
		_, err := readReply(r)
		return err
	})
}

// do runs one command on a fresh connection, bounded by ctx.
func (c *Client) do(ctx context.Context, cmd string, fn func(net.Conn, *bufio.Reader) error) error {
	dial := c.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("guest agent %s: %s: %w", c.Addr, cmd, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return fmt.Errorf("guest agent %s: %s: %w", c.Addr, cmd, ctxErr(ctx, err))
	}
	if err := fn(conn, bufio.NewReader(conn)); err != nil {
		return fmt.Errorf("guest agent %s: %s: %w", c.Addr, cmd, ctxErr(ctx, err))
	}
	return nil
}

// ctxErr prefers the context's error: a cancelled context closes the
// connection, and "use of closed network connection" would hide why.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	return err
}

func readReply(r *bufio.Reader) (Reply, error) {
	var rep Reply
	line, err := r.ReadBytes('\n')
	if err != nil {
		return rep, fmt.Errorf("read reply: %w", err)
	}
	if err := json.Unmarshal(line, &rep); err != nil {
		return rep, fmt.Errorf("decode reply %q: %w", line, err)
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("guest: %s", rep.Error)
	}
	return rep, nil
}

// readMember reads the reply and the member that answers the command,
// named what in the error when the guest left it out.
func readMember[T any](r *bufio.Reader, what string, member func(Reply) *T) (T, error) {
	var zero T
	rep, err := readReply(r)
	if err != nil {
		return zero, err
	}
	v := member(rep)
	if v == nil {
		return zero, fmt.Errorf("reply without %s", what)
	}
	return *v, nil
}

func transferOf(rep Reply) *Transfer { return rep.Transfer }

func closeWrite(conn net.Conn) error {
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("%T cannot half-close", conn)
	}
	if err := cw.CloseWrite(); err != nil {
		return fmt.Errorf("half-close: %w", err)
	}
	return nil
}
