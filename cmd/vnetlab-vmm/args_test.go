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
	hdr := append([]string{"-netdev", "tap,ifname=vnet3,vnet_hdr=on"}, append(good[:2:2], good[4:]...)...)
	if c, err := parseArgs(hdr); err != nil || !c.vnetHdr {
		t.Fatalf("vnet_hdr=on: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, "missing -name"},
		{append([]string{"-name", "guest=a", "-netdev", "user,id=x"}, good[4:]...), "-netdev: want tap"},
		{good[:6], "missing -control"},
		{append([]string{"-netdev", "tap,ifname=t,vnet_hdr=yes"}, good[:2]...), "vnet_hdr=\"yes\", want on or off"},
		{append(append([]string{}, good...), "stray"), "unexpected arguments"},
		{[]string{"-bogus"}, "not defined"},
	} {
		if _, err := parseArgs(tc.args); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.err)
		}
	}
}
