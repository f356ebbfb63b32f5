//go:build linux

package vnetguestreceiver

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver/internal/metadata"
)

// labGuest points a guest receiver at a lab VM's netns and guest NIC.
func labGuest(t *testing.T, vm *vmlab.VM) *guestScraper {
	t.Helper()
	return startGuestScraper(t, labGuestConfig(vm), false)
}

func labGuestConfig(vm *vmlab.VM) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NetNS = vm.NetnsPath()
	cfg.Interfaces.Include = []string{vm.GuestDev}
	return cfg
}

// startGuestScraper starts a scraper for cfg, with a traces pipeline when
// traced (so the trace group loads), shut down at the end of the test.
func startGuestScraper(t *testing.T, cfg *Config, traced bool) *guestScraper {
	t.Helper()
	set := receivertest.NewNopSettings(metadata.Type)
	inst := instanceFor(cfg, set)
	if traced {
		inst.traces = consumertest.NewNop()
	}
	s := newGuestScraper(inst, set)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	if traced {
		h := inst.tracesHandle()
		require.NoError(t, h.Start(context.Background(), componenttest.NewNopHost()))
		t.Cleanup(func() { require.NoError(t, h.Shutdown(context.Background())) })
	}
	return s
}

func sumOf(t *testing.T, s *guestScraper, name string, attrs map[string]string) int64 {
	t.Helper()
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	var total int64
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != name || m.Type() != pmetric.MetricTypeSum {
					continue
				}
			points:
				for _, dp := range m.Sum().DataPoints().All() {
					for k, v := range attrs {
						if got, ok := dp.Attributes().Get(k); !ok || got.AsString() != v {
							continue points
						}
					}
					total += dp.IntValue()
				}
			}
		}
	}
	return total
}

// TestGuestDropsMatchUDPNoPorts: UDP to a closed port in the guest is freed
// with NO_SOCKET on the guest NIC, as many times as the guest's own UDP
// NoPorts counter says.
func TestGuestDropsMatchUDPNoPorts(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	s := labGuest(t, vm)
	attrs := map[string]string{"network.interface.name": vm.GuestDev, "vnet.drop.reason": "NO_SOCKET"}

	before := sumOf(t, s, "vnet.packet.drops", attrs)
	snmpBefore, err := vmlab.ReadSNMP(vm.NetnsPath())
	require.NoError(t, err)
	sendUnconnected(t, lab.Client(), netip.AddrPortFrom(vm.IP, 9), 321)
	_, err = lab.Settle(context.Background(), 200*time.Millisecond)
	require.NoError(t, err)
	snmpAfter, err := vmlab.ReadSNMP(vm.NetnsPath())
	require.NoError(t, err)
	after := sumOf(t, s, "vnet.packet.drops", attrs)

	noPorts := snmpAfter["Udp"]["NoPorts"] - snmpBefore["Udp"]["NoPorts"]
	require.Equal(t, uint64(321), noPorts, "ground truth")
	require.Equal(t, int64(noPorts), after-before)
}

// sendUnconnected sends n datagrams from an unconnected socket, which the
// ICMP port unreachable answers do not fail.
func sendUnconnected(t *testing.T, from vmlab.Endpoint, to netip.AddrPort, n int) {
	t.Helper()
	var conn *net.UDPConn
	require.NoError(t, vmlab.InNetns(from.Netns, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from.IP, 0)))
		return err
	}))
	defer conn.Close()
	dst := net.UDPAddrFromAddrPort(to)
	for i := range n {
		_, err := conn.WriteToUDP([]byte("closed port"), dst)
		require.NoError(t, err, "datagram %d", i)
		time.Sleep(200 * time.Microsecond) // paced: no backlog drops on a busy host
	}
}

// TestGuestRetransmitsMatchSNMP: with the VMM holding the guest's frames
// back, the guest retransmits; the metric moves exactly as the guest's own
// RetransSegs.
func TestGuestRetransmitsMatchSNMP(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	s := labGuest(t, vm)

	before := sumOf(t, s, "vnet.tcp.retransmits", nil)
	snmpBefore, err := vmlab.ReadSNMP(vm.NetnsPath())
	require.NoError(t, err)
	// Every 5th frame from the guest lost: its data is retransmitted.
	require.NoError(t, vm.Control.DropEveryNth(vmmctl.FromGuest, 5))
	res, err := vmlab.TCPBulk(context.Background(), vm.Guest(), lab.Client(), 256<<10)
	require.NoError(t, err)
	require.True(t, res.Exact())
	require.NoError(t, vm.Control.DropEveryNth(vmmctl.FromGuest, 0))
	_, err = lab.Settle(context.Background(), 300*time.Millisecond)
	require.NoError(t, err)
	snmpAfter, err := vmlab.ReadSNMP(vm.NetnsPath())
	require.NoError(t, err)
	after := sumOf(t, s, "vnet.tcp.retransmits", nil)

	retrans := snmpAfter["Tcp"]["RetransSegs"] - snmpBefore["Tcp"]["RetransSegs"]
	require.NotZero(t, retrans, "the lossy path forced no retransmission")
	require.Equal(t, int64(retrans), after-before)
}
