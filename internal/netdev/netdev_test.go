package netdev

import (
	"strings"
	"testing"
)

func TestFilter(t *testing.T) {
	f := Filter{Include: []string{"vnet*", "tap*", "macvtap*"}, Exclude: []string{"vnet9*"}}
	for name, want := range map[string]bool{
		"vnet0": true, "tap12": true, "macvtap3": true, "vnet90": false, "eth0": false, "virbr0": false,
	} {
		if got := f.Match(name); got != want {
			t.Errorf("Match(%q) = %v, want %v", name, got, want)
		}
	}
	if err := f.Validate("interfaces"); err != nil {
		t.Fatal(err)
	}
	err := Filter{Include: []string{"vnet["}}.Validate("interfaces")
	if err == nil || !strings.Contains(err.Error(), `interfaces.include[0]: bad glob "vnet["`) {
		t.Fatalf("got %v", err)
	}
}
