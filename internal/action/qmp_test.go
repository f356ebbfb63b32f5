package action

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// A monitor that never greets (its socket listens, nothing accepts) is cut
// off by the timeout.
func TestQMPTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer ln.Close()
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
