package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	for line, want := range map[string]message{
		`{"QMP": {"version": {}, "capabilities": ["oob"]}}`: {Kind: greeting},
		`{"return": {}}`: {Kind: reply, Return: json.RawMessage(`{}`)},
		`{"return": {"name": "web-1"}, "id": "vnetpath-cmd"}`:                    {Kind: reply, Return: json.RawMessage(`{"name": "web-1"}`), ID: "vnetpath-cmd"},
		`{"error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}}`: {Kind: failure, Err: &Error{Class: "DeviceNotFound", Desc: "Device 'x' not found"}},
		`{"event": "NIC_RX_FILTER_CHANGED", "timestamp": {"seconds": 1}}`:        {Kind: event, Event: "NIC_RX_FILTER_CHANGED"},
		"{\"return\": []}\r": {Kind: reply, Return: json.RawMessage(`[]`)},
	} {
		got, err := decode([]byte(line))
		require.NoError(t, err, line)
		assert.Equal(t, want, got, line)
	}
	for line, want := range map[string]string{
		``:   "qmp: bad message: EOF",
		`[]`: "qmp: bad message: json: cannot unmarshal array into Go value of type qmp.wire",
		`{}`: "qmp: message is not one of greeting, return, error, event: {}",
		`{"return": {}, "error": {"class": "x"}}`: `qmp: message is not one of greeting, return, error, event: {"return": {}, "error": {"class": "x"}}`,
		`{"error": {"desc": "no class"}}`:         "qmp: error reply without a class",
		`{"return": 1, "id": 5}`:                  "qmp: id is not a string: 5",
		`{"return": {}} {"return": {}}`:           "qmp: bad message: data after the object",
		`{"QMP": {}, "event": "X"}`:               `qmp: message is not one of greeting, return, error, event: {"QMP": {}, "event": "X"}`,
		`{"retur`:                                 "qmp: bad message: unexpected EOF",
	} {
		_, err := decode([]byte(line))
		assert.EqualError(t, err, want, line)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"QMP": {}}`, `{"return": {}, "id": "a"}`, `{"error": {"class": "C", "desc": "d"}}`, `{"event": "E"}`, `{"return": null}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := decode(line)
		if err != nil {
			return
		}
		switch m.Kind {
		case greeting, event:
		case reply:
			if len(m.Return) == 0 {
				t.Fatalf("%q: a return without a value", line)
			}
		case failure:
			if m.Err == nil || m.Err.Class == "" {
				t.Fatalf("%q: an error without a class", line)
			}
		default:
			t.Fatalf("%q: kind %d", line, m.Kind)
		}
	})
}

// fakeMonitor serves one QMP connection with a script: for each command
// it reads, the handler writes reply lines.
func fakeMonitor(t *testing.T, greet bool, handle func(cmd map[string]any) []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "monitor.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if !greet {
			<-t.Context().Done() // a monitor that never speaks
			return
		}
		_, _ = conn.Write([]byte(`{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": ["oob"]}}` + "\r\n"))
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			var cmd map[string]any
			if json.Unmarshal(sc.Bytes(), &cmd) != nil {
				return
			}
			for _, line := range handle(cmd) {
				_, _ = conn.Write([]byte(line + "\r\n"))
			}
		}
	}()
	return path
}

func TestExecute(t *testing.T) {
	var got []map[string]any
	path := fakeMonitor(t, true, func(cmd map[string]any) []string {
		got = append(got, cmd)
		if cmd["execute"] == "qmp_capabilities" {
			return []string{`{"return": {}, "id": "vnetpath-caps"}`}
		}
		// An event may come before the reply.
		return []string{`{"event": "NIC_RX_FILTER_CHANGED", "data": {}, "timestamp": {"seconds": 1, "microseconds": 2}}`,
			`{"return": {"name": "web-1"}, "id": "vnetpath-cmd"}`}
	})
	ret, err := Execute(context.Background(), path, "query-name", nil)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name": "web-1"}`, string(ret))
	assert.Equal(t, []map[string]any{
		{"execute": "qmp_capabilities", "id": "vnetpath-caps"},
		{"execute": "query-name", "id": "vnetpath-cmd"},
	}, got)
}

func TestErrorReply(t *testing.T) {
	path := fakeMonitor(t, true, func(cmd map[string]any) []string {
		if cmd["execute"] == "qmp_capabilities" {
			return []string{`{"return": {}}`}
		}
		return []string{`{"error": {"class": "DeviceNotFound", "desc": "Device 'n9' not found"}, "id": "vnetpath-cmd"}`}
	})
	_, err := Execute(context.Background(), path, "set_link", map[string]any{"name": "n9", "up": false})
	assert.EqualError(t, err, "qmp set_link: DeviceNotFound: Device 'n9' not found")
	var qerr *Error
	assert.True(t, errors.As(err, &qerr))
}

// A monitor that accepts and never greets is cut off when ctx ends.
func TestSilentMonitor(t *testing.T) {
	path := fakeMonitor(t, false, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Execute(ctx, path, "query-status", nil)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrConnect)
}

// No monitor yet (QEMU has not made its socket): ErrConnect, which callers
// waiting for QEMU retry.
func TestNoMonitor(t *testing.T) {
	_, err := Execute(context.Background(), filepath.Join(t.TempDir(), "none.sock"), "cont", nil)
	assert.ErrorIs(t, err, ErrConnect)
	assert.ErrorIs(t, err, syscall.ENOENT)
}
