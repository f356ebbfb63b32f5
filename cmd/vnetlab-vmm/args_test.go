package main

import (
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	good := []string{"-name", "guest=vm0,debug-threads=on", "-netdev", "tap,id=hostnet0,ifname=vnet3",
		"-guestnic", "netns=/var/run/netns/vm0,ifname=eth0", "-control", "/run/x.sock"}
	c, err := parseArgs(good)
	want := config{name: "vm0", hostTap: "vnet3", guestNetns: "/var/run/netns/vm0", guestIfname: "eth0", control: "/run/x.sock"}
	if err != nil || c != want {
		t.Fatalf("%+v, %v; want %+v", c, err, want)
	}
	bare := append([]string{"-name", "vm1"}, good[2:]...)
	if c, err := parseArgs(bare); err != nil || c.name != "vm1" {
		t.Fatalf("bare -name: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, "missing -name"},
		{append([]string{"-name", "guest=a", "-netdev", "user,id=x"}, good[4:]...), "-netdev: want tap"},
		{good[:6], "missing -control"},
		{append(append([]string{}, good...), "stray"), "unexpected arguments"},
		{[]string{"-bogus"}, "not defined"},
	} {
		if _, err := parseArgs(tc.args); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.err)
		}
	}
}
