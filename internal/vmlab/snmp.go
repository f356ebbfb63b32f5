package vmlab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// SNMP is a netns's protocol counters from /proc/net/snmp, by protocol
// ("Ip", "Icmp", "Tcp", "Udp", ...) and field ("InDatagrams", "RcvbufErrors"...).
type SNMP map[string]map[string]uint64

// ReadSNMP reads the protocol counters of the netns at path: socket-level
// ground truth such as UDP receive-buffer drops or TCP retransmits.
func ReadSNMP(path string) (SNMP, error) { return readCounters(path, "snmp") }

// ReadNetstat reads the netns's extended counters (/proc/net/netstat,
// "TcpExt", "IpExt"), such as TCPBacklogCoalesce.
func ReadNetstat(path string) (SNMP, error) { return readCounters(path, "netstat") }

func readCounters(path, file string) (SNMP, error) {
	var b []byte
	err := InNetns(path, func() error {
		var err error
		// thread-self: the netns of this thread, not of the process.
		b, err = os.ReadFile("/proc/thread-self/net/" + file)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", file, path, err)
	}
	return parseSNMP(string(b))
}

// parseSNMP reads /proc/net/snmp or /proc/net/netstat text: pairs of
// lines, "Proto: names..." then "Proto: values...".
func parseSNMP(s string) (SNMP, error) {
	out := SNMP{}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) != len(values) || len(names) < 2 || names[0] != values[0] || len(names[0]) < 2 || !strings.HasSuffix(names[0], ":") {
			return nil, fmt.Errorf("snmp: malformed pair %q / %q", lines[i], lines[i+1])
		}
		proto := strings.TrimSuffix(names[0], ":")
		m := map[string]uint64{}
		for j := 1; j < len(names); j++ {
			// Some fields (Tcp MaxConn) are -1: kept as their two's complement.
			v, err := strconv.ParseInt(values[j], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("snmp %s %s: %w", proto, names[j], err)
			}
			m[names[j]] = uint64(v)
		}
		out[proto] = m
	}
	return out, nil
}
