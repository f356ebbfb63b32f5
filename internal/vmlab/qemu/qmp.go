package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// qmp is a QEMU Machine Protocol session on QEMU's -qmp unix socket: JSON
// commands, one reply each, interleaved with asynchronous events.
type qmp struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialQMP connects once the socket is up (QEMU makes it early at start) and
// leaves capabilities negotiation mode.
func dialQMP(ctx context.Context, path string, exited <-chan struct{}) (*qmp, error) {
	for {
		conn, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
		if err == nil {
			q := &qmp{conn: conn, r: bufio.NewReader(conn)}
			if err := q.handshake(ctx); err != nil {
				conn.Close()
				return nil, err
			}
			return q, nil
		}
		select {
		case <-exited:
			return nil, errors.New("qmp: QEMU exited before its monitor came up")
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp %s: %w (last: %v)", path, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (q *qmp) handshake(ctx context.Context) error {
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := q.read(ctx, &greeting); err != nil || greeting.QMP == nil {
		return fmt.Errorf("qmp greeting: %w", errors.Join(err, errors.New("no QMP greeting")))
	}
	return q.execute(ctx, "qmp_capabilities")
}

// execute runs a command without arguments and waits for its reply.
func (q *qmp) execute(ctx context.Context, cmd string) error {
	b, _ := json.Marshal(map[string]string{"execute": cmd})
	if dl, ok := ctx.Deadline(); ok {
		_ = q.conn.SetDeadline(dl)
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		var msg struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
		}
		if err := q.read(ctx, &msg); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case msg.Error != nil:
			return fmt.Errorf("qmp %s: %s: %s", cmd, msg.Error.Class, msg.Error.Desc)
		case msg.Return != nil:
			return nil
		}
		// An event ({"event": ...}): not our reply.
	}
}

func (q *qmp) read(ctx context.Context, v any) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = q.conn.SetDeadline(dl)
	}
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

func (q *qmp) close() error { return q.conn.Close() }
