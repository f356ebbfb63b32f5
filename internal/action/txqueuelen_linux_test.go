//go:build linux

package action

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// testNetns makes a named network namespace holding devices (veth pairs:
// CI kernels lack the dummy driver) with txqueuelen 64, and returns its
// path and a netlink handle in it.
func testNetns(t *testing.T, devices ...string) (string, *netlink.Handle) {
	t.Helper()
	testenv.RequireRoot(t)
	name := fmt.Sprintf("vnetpath-action-%d-%s", os.Getpid(), t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	ns := func() netns.NsHandle {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		require.NoError(t, err)
		defer orig.Close()
		defer func() { require.NoError(t, netns.Set(orig)) }()
		ns, err := netns.NewNamed(name)
		require.NoError(t, err)
		return ns
	}()
	t.Cleanup(func() { ns.Close(); _ = netns.DeleteNamed(name) })
	h, err := netlink.NewHandleAt(ns)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	for _, d := range devices {
		require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: d, TxQLen: 64}, PeerName: d + "p"}))
	}
	return "/var/run/netns/" + name, h
}

func txQLen(t *testing.T, h *netlink.Handle, dev string) int {
	t.Helper()
	l, err := h.LinkByName(dev)
	require.NoError(t, err)
	return l.Attrs().TxQLen
}

func newTxQueueLen(t *testing.T, settings map[string]any) Action {
	t.Helper()
	a, err := TxQueueLenFactory{}.Create(Settings{Logger: zap.NewNop()}, settings)
	require.NoError(t, err)
	return a
}

// multiply: 4 raises 64 to 256, 1024, then the cap 4096; at the cap the
// action refuses. Each run records the old and new values.
func TestTxQueueLenMultiply(t *testing.T) {
	path, h := testNetns(t, "vnet0")
	a := newTxQueueLen(t, map[string]any{"netns": path, "multiply": 4, "max": 4096, "rate_limit": map[string]any{"per_target": map[string]any{"every": 0}}})
	ev := *event("vm.name", "web-1", "network.interface.name", "vnet0")
	var steps [][2]string
	for range 3 {
		res, err := a.Fire(context.Background(), ev)
		require.NoError(t, err)
		steps = append(steps, [2]string{res.Old, res.New})
		assert.Equal(t, Target{VM: "web-1", Interface: "vnet0", Netns: path, Key: path + "/vnet0"}, res.Target)
	}
	assert.Equal(t, [][2]string{{"64", "256"}, {"256", "1024"}, {"1024", "4096"}}, steps)
	assert.Equal(t, 4096, txQLen(t, h, "vnet0"))
	res, err := a.Fire(context.Background(), ev)
	assert.EqualError(t, err, "refused: txqueuelen of vnet0 is 4096 already; max 4096")
	assert.Equal(t, "4096", res.Old)
}

func TestTxQueueLenSetAndDryRun(t *testing.T) {
	path, h := testNetns(t, "vnet0")
	ev := *event("network.interface.name", "vnet0")
	dry := ev
	dry.DryRun = true
	res, err := newTxQueueLen(t, map[string]any{"netns": path, "set": 1000}).Fire(context.Background(), dry)
	require.NoError(t, err)
	assert.Equal(t, Result{Outcome: DryRun, Target: Target{Interface: "vnet0", Netns: path, Key: path + "/vnet0"}, Old: "64", New: "1000"}, res)
	assert.Equal(t, 64, txQLen(t, h, "vnet0"), "a dry run changes nothing")

	res, err = newTxQueueLen(t, map[string]any{"netns": path, "set": 1000}).Fire(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, "1000", res.New)
	assert.Equal(t, 1000, txQLen(t, h, "vnet0"))
	_, err = newTxQueueLen(t, map[string]any{"netns": path, "set": 500}).Fire(context.Background(), ev)
	assert.EqualError(t, err, "refused: txqueuelen of vnet0 is 1000 already; max 4096", "never lowers")
}

func TestTxQueueLenRefusals(t *testing.T) {
	path, h := testNetns(t, "eth9")
	a := newTxQueueLen(t, map[string]any{"netns": path, "multiply": 2})
	for _, tc := range []struct {
		ev   *Event
		want string
	}{
		{event("vm.name", "web-1"), "refused: the group has no network.interface.name; add it to the indicator's group_by"},
		{event("network.interface.name", "../eth9"), `refused: network.interface.name "../eth9" is not a safe value (letters, digits, then _ . : -, at most 64, no "..")`},
		{event("network.interface.name", "eth9"), "refused: interface eth9 is not in allowed_interfaces [vnet* tap* macvtap*]"},
		{event("network.interface.name", "vnet7"), "refused: interface vnet7 is gone"},
	} {
		_, err := a.Fire(context.Background(), *tc.ev)
		assert.EqualError(t, err, tc.want)
	}
	assert.Equal(t, 64, txQLen(t, h, "eth9"))
}

func TestTxQueueLenConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{}, "exactly one of multiply, set is required"},
		{map[string]any{"multiply": 2, "set": 100}, "exactly one of multiply, set is required"},
		{map[string]any{"multiply": 1}, "multiply: must be at least 2, got 1"},
		{map[string]any{"set": 5000}, "set: 5000 is outside [1, max 4096]"},
		{map[string]any{"multiply": 2, "max": 100000}, "max: must be in [1, 65536], got 100000"},
		{map[string]any{"multiply": 2, "netns": "run/netns/x"}, `netns: "run/netns/x" must be an absolute path such as /var/run/netns/NAME`},
		{map[string]any{"multiply": 2, "allowed_interfaces": []any{"vnet["}}, `allowed_interfaces[0]: bad glob "vnet["`},
		{map[string]any{"multiply": 2, "allowed_interfaces": []any{}}, "allowed_interfaces: list at least one name glob, e.g. vnet*"},
	} {
		assert.EqualError(t, TxQueueLenFactory{}.Validate(tc.settings), tc.want)
	}
	assert.NoError(t, TxQueueLenFactory{}.Validate(map[string]any{"multiply": 4, "max": 4096}))
}
