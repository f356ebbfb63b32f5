package promtext

import (
	"strings"
	"testing"
)

const exposition = `# HELP vnet_softirq_count_total Softirq handler runs.
# TYPE vnet_softirq_count_total counter
vnet_softirq_count_total{cpu_logical_number="0",vnet_softirq_vector="NET_RX"} 12
vnet_softirq_count_total{cpu_logical_number="1",vnet_softirq_vector="NET_RX"} 30
vnet_softirq_count_total{cpu_logical_number="1",vnet_softirq_vector="TIMER"} 7
odd_total{v="a\"b\\c\nd"} 1.5e3
bare 4 1700000000000
`

func TestParse(t *testing.T) {
	s, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 5 {
		t.Fatalf("got %d samples, want 5", len(s))
	}
	if got := s.Sum("vnet_softirq_count_total", map[string]string{"vnet_softirq_vector": "NET_RX"}); got != 42 {
		t.Errorf("NET_RX sum = %v, want 42", got)
	}
	if got := len(s.Find("vnet_softirq_count_total", map[string]string{"cpu_logical_number": "1"})); got != 2 {
		t.Errorf("cpu 1 has %d series, want 2", got)
	}
	if odd := s.Find("odd_total", nil); len(odd) != 1 || odd[0].Labels["v"] != "a\"b\\c\nd" || odd[0].Value != 1500 {
		t.Errorf("escapes: %+v", odd)
	}
	if bare := s.Find("bare", nil); len(bare) != 1 || bare[0].Value != 4 {
		t.Errorf("bare: %+v", bare)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{`x{a="1"`, `x{a=1} 2`, `x{a="1} 2`, `x{a="\q"} 1`, `x NaNa`, `x`} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(exposition)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, x := range s {
			if x.Name == "" {
				t.Fatalf("empty name from %q", in)
			}
		}
	})
}
