package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// config is the VMM's command line, QEMU-like so discovery code meets what it
// meets on a libvirt host:
//
//	vnetlab-vmm -name guest=vm0,debug-threads=on -netdev tap,id=hostnet0,ifname=vnet3[,vnet_hdr=on] \
//	    -guestnic netns=/var/run/netns/vm0,ifname=eth0 -control /run/vnetlab/x/vm0.sock
type config struct {
	name        string // VM name, from -name guest=<name> or -name <name>
	hostTap     string // host-side tap, created in the VMM's own netns
	guestNetns  string // bind-mounted netns file of the VM
	guestIfname string // guest-side tap, created inside guestNetns
	control     string // unix socket path of the control protocol
	vnetHdr     bool   // both taps carry virtio-net headers and take GSO frames (QEMU's vnet_hdr=on)
}

func parseArgs(args []string) (config, error) {
	fs := flag.NewFlagSet("vnetlab-vmm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "guest=<vm name>[,...]")
	netdev := fs.String("netdev", "", "tap,id=<id>,ifname=<host tap>")
	guestnic := fs.String("guestnic", "", "netns=<netns path>,ifname=<guest device>")
	control := fs.String("control", "", "control socket path")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var c config
	bare, opts := splitOpts(*name)
	c.name = opts["guest"]
	if c.name == "" {
		c.name = bare
	}
	kind, opts := splitOpts(*netdev)
	if *netdev != "" && kind != "tap" {
		return config{}, fmt.Errorf("-netdev: want tap,...,ifname=<name>, got %q", *netdev)
	}
	c.hostTap = opts["ifname"]
	switch v := opts["vnet_hdr"]; v {
	case "", "off":
	case "on":
		c.vnetHdr = true
	default:
		return config{}, fmt.Errorf("-netdev: vnet_hdr=%q, want on or off", v)
	}
	_, opts = splitOpts(*guestnic)
	c.guestNetns, c.guestIfname = opts["netns"], opts["ifname"]
	c.control = *control
	var missing []string
	for _, f := range []struct{ v, what string }{
		{c.name, "-name guest=<vm>"}, {c.hostTap, "-netdev tap,ifname=<tap>"},
		{c.guestNetns, "-guestnic netns=<path>"}, {c.guestIfname, "-guestnic ifname=<name>"},
		{c.control, "-control <path>"},
	} {
		if f.v == "" {
			missing = append(missing, f.what)
		}
	}
	if len(missing) > 0 {
		return config{}, errors.New("missing " + strings.Join(missing, ", "))
	}
	return c, nil
}

// splitOpts splits a QEMU option string "word,k=v,k=v" into its leading bare
// word (if any) and its key=value pairs.
func splitOpts(s string) (string, map[string]string) {
	opts := map[string]string{}
	var bare string
	for i, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		switch {
		case ok:
			opts[k] = v
		case i == 0:
			bare = part
		}
	}
	return bare, opts
}
