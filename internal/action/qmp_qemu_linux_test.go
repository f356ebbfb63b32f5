//go:build linux

package action

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// qemuLab is a real QEMU (no machine, no CPU) whose tap netdev n0 is
// joined by a hub to a UDP socket netdev: a frame sent into the host tap
// crosses QEMU and arrives at a UDP socket of the test, unless n0's link
// is down.
type qemuLab struct {
	name, tap, socket string
	out               *net.UDPConn // where QEMU forwards the tap's frames
	pkt               int          // AF_PACKET socket on the tap
}

func startQEMU(t *testing.T) *qemuLab {
	t.Helper()
	testenv.RequireRoot(t)
	bin, err := exec.LookPath("qemu-system-x86_64")
	require.NoError(t, err, "qemu-system-x86_64 is needed (make deps installs qemu-system-x86)")
	q := &qemuLab{name: "qmp-test", tap: fmt.Sprintf("vnpq%d", os.Getpid()%100000), socket: filepath.Join(t.TempDir(), "qmp.sock")}
	q.out, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { q.out.Close() })
	cmd := exec.Command(bin, "-machine", "none", "-nodefaults", "-display", "none", "-name", "guest="+q.name,
		"-netdev", "tap,id=n0,ifname="+q.tap+",script=no,downscript=no",
		"-netdev", fmt.Sprintf("socket,id=s0,udp=%s,localaddr=127.0.0.1:0", q.out.LocalAddr()),
		"-netdev", "hubport,id=h0,hubid=0,netdev=n0", "-netdev", "hubport,id=h1,hubid=0,netdev=s0",
		"-qmp", "unix:"+q.socket+",server=on,wait=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// The monitor socket comes before the netdevs: wait for the tap.
	var link netlink.Link
	require.Eventually(t, func() bool {
		link, err = netlink.LinkByName(q.tap)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "QEMU made no tap %s: %s", q.tap, &stderr)

	// Silence the tap (no IPv6 chatter), bring it up, and open a raw
	// socket to send frames into it.
	require.NoError(t, os.WriteFile("/proc/sys/net/ipv6/conf/"+q.tap+"/disable_ipv6", []byte("1"), 0o644))
	require.NoError(t, netlink.LinkSetUp(link))
	q.pkt, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(q.pkt) })
	require.NoError(t, unix.Bind(q.pkt, &unix.SockaddrLinklayer{Ifindex: link.Attrs().Index}))
	return q
}

// crosses sends a marked frame into the tap and reports whether QEMU
// forwarded it within wait.
func (q *qemuLab) crosses(t *testing.T, mark uint32, wait time.Duration) bool {
	t.Helper()
	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5})
	binary.BigEndian.PutUint32(frame[14:], mark)
	_, err := unix.Write(q.pkt, frame)
	require.NoError(t, err)
	buf := make([]byte, 2048)
	require.NoError(t, q.out.SetReadDeadline(time.Now().Add(wait)))
	for {
		n, err := q.out.Read(buf)
		if err != nil {
			return false // the deadline passed
		}
		if n >= 18 && binary.BigEndian.Uint32(buf[14:]) == mark {
			return true
		}
	}
}

func (q *qemuLab) action(t *testing.T, command string, args map[string]any) Action {
	t.Helper()
	a, err := QMPFactory{}.Create(Settings{Logger: zap.NewNop()}, map[string]any{
		"sockets": map[string]any{q.name: q.socket}, "command": command, "arguments": args,
	})
	require.NoError(t, err)
	return a
}

// TestQMPAgainstQEMU runs the qmp action against a real QEMU: query-name
// returns the VM's name; set_link n0 down stops frames from crossing
// QEMU, up lets them through again; an unknown device is QEMU's error.
func TestQMPAgainstQEMU(t *testing.T) {
	q := startQEMU(t)
	ev := *event("vm.name", q.name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	res, err := q.action(t, "query-name", nil).Fire(ctx, ev)
	require.NoError(t, err)
	assert.Equal(t, `query-name {} returned {"name":"qmp-test"}`, res.Detail)
	assert.Equal(t, q.socket, res.Target.Socket)

	require.True(t, q.crosses(t, 1, 5*time.Second), "link up: the frame crosses QEMU")
	res, err = q.action(t, "set_link", map[string]any{"name": "n0", "up": false}).Fire(ctx, ev)
	require.NoError(t, err)
	assert.Equal(t, `set_link {"name":"n0","up":false} returned {}`, res.Detail)
	assert.False(t, q.crosses(t, 2, 500*time.Millisecond), "link down: QEMU drops the frame")
	_, err = q.action(t, "set_link", map[string]any{"name": "n0", "up": true}).Fire(ctx, ev)
	require.NoError(t, err)
	assert.True(t, q.crosses(t, 3, 5*time.Second), "link up again")

	_, err = q.action(t, "set_link", map[string]any{"name": "nosuch", "up": false}).Fire(ctx, ev)
	assert.EqualError(t, err, "qmp set_link: DeviceNotFound: Device 'nosuch' not found")
	assert.Equal(t, Failure, Classify(ctx, err))
}
