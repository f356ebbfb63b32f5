package vmlab

import (
	"testing"
	"time"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

func TestParseSNMP(t *testing.T) {
	s, err := parseSNMP("Tcp: RtoMin MaxConn\nTcp: 200 -1\nUdp: InDatagrams NoPorts\nUdp: 5 2\n")
	if err != nil || s["Udp"]["InDatagrams"] != 5 || s["Udp"]["NoPorts"] != 2 || s["Tcp"]["RtoMin"] != 200 {
		t.Fatalf("%v, %v", s, err)
	}
	for _, bad := range []string{"Udp: A B\nUdp: 1\n", "Udp: A\nTcp: 1\n", "Udp: A\nUdp: x\n"} {
		if _, err := parseSNMP(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The guest's UDP counters are its own netns's: they count exactly the burst.
func TestGuestSNMP(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	before, err := ReadSNMP(vm.NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	res, err := UDPBurst(testenv.Context(t, 10*time.Second), lab.Client(), vm.Guest(), UDPSpec{Count: 123, Size: 50, Rate: pace}, 100*time.Millisecond)
	if err != nil || res.Received != 123 {
		t.Fatalf("%+v, %v", res, err)
	}
	after, err := ReadSNMP(vm.NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	if d := after["Udp"]["InDatagrams"] - before["Udp"]["InDatagrams"]; d != 123 || after["Udp"]["RcvbufErrors"] != before["Udp"]["RcvbufErrors"] {
		t.Fatalf("guest Udp InDatagrams +%d, RcvbufErrors %d -> %d", d, before["Udp"]["RcvbufErrors"], after["Udp"]["RcvbufErrors"])
	}
}

// FuzzParseSNMP: any text parses or is refused; what parses has a value
// for every name of its protocol's header line.
func FuzzParseSNMP(f *testing.F) {
	f.Add("TcpExt: SyncookiesSent TCPBacklogCoalesce\nTcpExt: 0 17\nIpExt: InNoRoutes\nIpExt: 3\n")
	f.Add("Udp: A B\nUdp: 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseSNMP(text)
		if err != nil {
			return
		}
		for proto, fields := range s {
			if proto == "" || len(fields) == 0 {
				t.Fatalf("%q: protocol %q with fields %v", text, proto, fields)
			}
		}
	})
}
