//go:build linux

package vnethostreceiver

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/vnetpath/vnetpath/internal/sharedcomp"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

type cpuVec struct {
	cpu int64
	vec string
}

// procSoftirqs reads the kernel's own per-CPU softirq counters, which
// handle_softirqs bumps right before the irq:softirq_entry tracepoint.
func procSoftirqs(t *testing.T) map[cpuVec]int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/softirqs")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	counts := map[cpuVec]int64{}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		vec := strings.TrimSuffix(f[0], ":")
		for cpu, s := range f[1:] {
			n, err := strconv.ParseInt(s, 10, 64)
			require.NoError(t, err)
			counts[cpuVec{int64(cpu), vec}] = n
		}
	}
	return counts
}

func scrapeSoftirqs(t *testing.T, s *hostScraper) map[cpuVec]int64 {
	t.Helper()
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	counts := map[cpuVec]int64{}
	if md.ResourceMetrics().Len() == 0 {
		return counts
	}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		if m.Name() != "vnet.softirq.count" {
			continue
		}
		require.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality())
		require.True(t, m.Sum().IsMonotonic())
		dps := m.Sum().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			cpu, _ := dp.Attributes().Get("cpu.logical_number")
			vec, _ := dp.Attributes().Get("vnet.softirq.vector")
			counts[cpuVec{cpu.Int(), vec.Str()}] = dp.IntValue()
		}
	}
	return counts
}

func loopbackTraffic(t *testing.T, packets int) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer conn.Close()
	out, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer out.Close()
	for range packets {
		_, err := out.Write([]byte("vnetpath"))
		require.NoError(t, err)
	}
}

// startScraper starts a metrics scraper for cfg, shut down at the end of the test.
func startScraper(t testing.TB, cfg *Config) *hostScraper {
	t.Helper()
	s := openScraper(t, cfg, nil)
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	return s
}

// openScraper starts a scraper for cfg, with a traces pipeline into traces
// unless it is nil (the trace group loads with one); the caller shuts the
// scraper down, and the traces pipeline stops at the end of the test.
func openScraper(tb testing.TB, cfg *Config, traces consumer.Traces) *hostScraper {
	tb.Helper()
	s, _ := openScraperWith(tb, cfg, traces, receivertest.NewNopSettings(metadata.Type))
	return s
}

// openScraperWith is openScraper with the receiver settings given; it
// returns the traces pipeline's component too (nil without one), for a
// caller that stops it sooner.
func openScraperWith(tb testing.TB, cfg *Config, traces consumer.Traces, set receiver.Settings) (*hostScraper, *sharedcomp.Handle) {
	tb.Helper()
	inst := instanceFor(cfg, set)
	inst.traces = traces
	s := newHostScraper(inst, set)
	require.NoError(tb, s.start(context.Background(), componenttest.NewNopHost()))
	if traces == nil {
		return s, nil
	}
	h := inst.tracesHandle()
	require.NoError(tb, h.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, h.Shutdown(context.Background())) })
	return s, h
}

// startTelemetryScraper starts a scraper for cfg whose self-telemetry the
// returned Telemetry collects, shut down at the end of the test.
func startTelemetryScraper(t *testing.T, cfg *Config, traces consumer.Traces) (*hostScraper, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	s, _ := openScraperWith(t, cfg, traces, set)
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	return s, tel
}

func delta(after, before map[cpuVec]int64) map[cpuVec]int64 {
	d := map[cpuVec]int64{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// TestSoftirqCountsMatchKernel sandwiches the receiver's counts between
// /proc/softirqs readings: counted inside a /proc interval they can't
// exceed it, counted around one they can't fall short of it.
func TestSoftirqCountsMatchKernel(t *testing.T) {
	testenv.RequireRoot(t)
	s := startScraper(t, createDefaultConfig().(*Config))

	p0 := procSoftirqs(t)
	m0 := scrapeSoftirqs(t, s)
	loopbackTraffic(t, 2000)
	m1 := scrapeSoftirqs(t, s)
	p1 := procSoftirqs(t)
	inner, outer := delta(m1, m0), delta(p1, p0)
	netRX := int64(0)
	for k, v := range inner {
		require.LessOrEqualf(t, v, outer[k], "cpu %d %s: counted %d, kernel counted %d around it", k.cpu, k.vec, v, outer[k])
		if k.vec == "NET_RX" {
			netRX += v
		}
	}
	require.NotZero(t, netRX, "loopback traffic raised no NET_RX softirq")

	m2 := scrapeSoftirqs(t, s)
	p2 := procSoftirqs(t)
	loopbackTraffic(t, 2000)
	p3 := procSoftirqs(t)
	m3 := scrapeSoftirqs(t, s)
	inner, outer = delta(p3, p2), delta(m3, m2)
	for k, v := range inner {
		require.GreaterOrEqualf(t, outer[k], v, "cpu %d %s: counted %d around a kernel interval of %d", k.cpu, k.vec, outer[k], v)
	}
}

// TestSoftirqHistograms: with every raise timed, each NET_RX run the
// latency histogram counts is also in the duration histogram (but a run in
// progress at the scrape), and no more runs are timed than ran.
func TestSoftirqHistograms(t *testing.T) {
	testenv.RequireRoot(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Probes = []string{"softirq"}
	cfg.Softirq = SoftirqConfig{HistogramVectors: []string{"NET_RX"}, SampleEvery: 1}
	s := startScraper(t, cfg)
	loopbackTraffic(t, 3000)
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	r := index(md)
	timed := uint64(0)
	for key, lat := range r.hists["vnet.softirq.latency"] {
		require.Contains(t, key, "vnet.softirq.vector=NET_RX", "only the configured vector")
		dur, ok := r.hists["vnet.softirq.duration"][key]
		require.True(t, ok, key)
		require.Contains(t, []uint64{0, 1}, lat.Count()-dur.Count(), key)
		cpu := strings.TrimPrefix(strings.Split(key, ",")[0], "cpu.logical_number=")
		runs := r.sums["vnet.softirq.count"]["cpu.logical_number="+cpu+",vnet.softirq.vector=NET_RX"]
		require.LessOrEqual(t, int64(lat.Count()), runs, key)
		timed += lat.Count()
	}
	require.NotZero(t, timed, "loopback traffic timed no NET_RX softirq")
}
