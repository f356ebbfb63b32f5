package action

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestDecodeQMP(t *testing.T) {
	for line, want := range map[string]qmpMessage{
		`{"QMP": {"version": {}, "capabilities": ["oob"]}}`: {Kind: qmpGreeting},
		`{"return": {}}`: {Kind: qmpReturn, Return: json.RawMessage(`{}`)},
		`{"return": {"name": "web-1"}, "id": "vnetpath-cmd"}`:                    {Kind: qmpReturn, Return: json.RawMessage(`{"name": "web-1"}`), ID: "vnetpath-cmd"},
		`{"error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}}`: {Kind: qmpFailure, Err: &QMPError{Class: "DeviceNotFound", Desc: "Device 'x' not found"}},
		`{"event": "NIC_RX_FILTER_CHANGED", "timestamp": {"seconds": 1}}`:        {Kind: qmpEvent, Event: "NIC_RX_FILTER_CHANGED"},
		"{\"return\": []}\r": {Kind: qmpReturn, Return: json.RawMessage(`[]`)},
	} {
		got, err := decodeQMP([]byte(line))
		require.NoError(t, err, line)
		assert.Equal(t, want, got, line)
	}
	for line, want := range map[string]string{
		``:   "qmp: bad message: EOF",
		`[]`: "qmp: bad message: json: cannot unmarshal array into Go value of type action.qmpWire",
		`{}`: "qmp: message is not one of greeting, return, error, event: {}",
		`{"return": {}, "error": {"class": "x"}}`: `qmp: message is not one of greeting, return, error, event: {"return": {}, "error": {"class": "x"}}`,
		`{"error": {"desc": "no class"}}`:         "qmp: error reply without a class",
		`{"return": 1, "id": 5}`:                  "qmp: id is not a string: 5",
		`{"return": {}} {"return": {}}`:           "qmp: bad message: data after the object",
		`{"QMP": {}, "event": "X"}`:               `qmp: message is not one of greeting, return, error, event: {"QMP": {}, "event": "X"}`,
		`{"retur`:                                 "qmp: bad message: unexpected EOF",
	} {
		_, err := decodeQMP([]byte(line))
		assert.EqualError(t, err, want, line)
	}
}

func FuzzDecodeQMP(f *testing.F) {
	for _, s := range []string{`{"QMP": {}}`, `{"return": {}, "id": "a"}`, `{"error": {"class": "C", "desc": "d"}}`, `{"event": "E"}`, `{"return": null}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := decodeQMP(line)
		if err != nil {
			return
		}
		switch m.Kind {
		case qmpGreeting, qmpEvent:
		case qmpReturn:
			if len(m.Return) == 0 {
				t.Fatalf("%q: a return without a value", line)
			}
		case qmpFailure:
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

func TestQMPExecute(t *testing.T) {
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
	ret, err := qmpExecute(context.Background(), path, "query-name", nil)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name": "web-1"}`, string(ret))
	assert.Equal(t, []map[string]any{
		{"execute": "qmp_capabilities", "id": "vnetpath-caps"},
		{"execute": "query-name", "id": "vnetpath-cmd"},
	}, got)
}

func TestQMPErrorReply(t *testing.T) {
	path := fakeMonitor(t, true, func(cmd map[string]any) []string {
		if cmd["execute"] == "qmp_capabilities" {
			return []string{`{"return": {}}`}
		}
		return []string{`{"error": {"class": "DeviceNotFound", "desc": "Device 'n9' not found"}, "id": "vnetpath-cmd"}`}
	})
	_, err := qmpExecute(context.Background(), path, "set_link", map[string]any{"name": "n9", "up": false})
	assert.EqualError(t, err, "qmp set_link: DeviceNotFound: Device 'n9' not found")
	var qerr *QMPError
	assert.True(t, errors.As(err, &qerr))
}

// A monitor that accepts and never greets is cut off by the timeout.
func TestQMPTimeout(t *testing.T) {
	path := fakeMonitor(t, false, nil)
	a, err := QMPFactory{}.Create(Settings{Logger: zap.NewNop()}, map[string]any{
		"sockets": map[string]any{"web-1": path}, "command": "query-status",
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	res, err := a.Fire(ctx, *event("vm.name", "web-1"))
	assert.Less(t, time.Since(began), 2*time.Second)
	assert.Equal(t, Timeout, Classify(ctx, err), "%v", err)
	assert.Equal(t, path, res.Target.Socket)
}

func TestQMPTarget(t *testing.T) {
	a, err := QMPFactory{}.Create(Settings{Logger: zap.NewNop()}, map[string]any{
		"socket":  "/var/lib/libvirt/qemu/domain-{{vm.name}}/monitor.sock",
		"sockets": map[string]any{"db-1": "/run/db-1.sock"},
		"command": "set_link", "arguments": map[string]any{"name": "net0", "up": false},
		"dry_run": true,
	})
	require.NoError(t, err)
	res, err := a.Fire(context.Background(), *event("vm.name", "web-1"))
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/libvirt/qemu/domain-web-1/monitor.sock", res.Target.Socket)
	assert.Equal(t, DryRun, res.Outcome)
	assert.Equal(t, `set_link {"name":"net0","up":false}`, res.Detail)
	res, err = a.Fire(context.Background(), *event("vm.name", "db-1"))
	require.NoError(t, err)
	assert.Equal(t, "/run/db-1.sock", res.Target.Socket, "the map wins")
	_, err = a.Fire(context.Background(), *event("vm.name", "../../tmp/x"))
	assert.ErrorContains(t, err, "is not a safe value")
	_, err = a.Fire(context.Background(), *event("network.interface.name", "vnet3"))
	assert.EqualError(t, err, `refused: the group has no attribute "vm.name" for the template`)
}

func TestQMPConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{"command": "query-status"}, "one of socket, sockets is required"},
		{map[string]any{"socket": "run/{{vm.name}}.sock", "command": "query-status"}, `socket: "run/{{vm.name}}.sock" must be an absolute path`},
		{map[string]any{"socket": "/run/{{vm.name.sock", "command": "query-status"}, `socket: template "/run/{{vm.name.sock": "{{" without "}}"`},
		{map[string]any{"sockets": map[string]any{"a": "x.sock"}, "command": "query-status"}, `sockets.a: "x.sock" must be an absolute path`},
		{map[string]any{"socket": "/run/q.sock", "command": "Set Link"}, `command: "Set Link" is not a QMP command name (e.g. set_link, query-status)`},
	} {
		assert.EqualError(t, QMPFactory{}.Validate(tc.settings), tc.want)
	}
}
