// Package vmlab builds a KVM-style virtual network path on any Linux box and
// tears it down again:
//
//	netns client --veth--> bridge --> host tap vnetN --> VMM process
//	    (thread vhost-<pid>, cmdline "-name guest=<vm>") --> tap in the VM's
//	    netns (the guest NIC, with the VM's address and a TCP/UDP stack)
//
// It injects faults (VMM pause and per-frame delay, txqueuelen, tbf on the
// client veth, a TUNSETFILTEREBPF filter on the host tap), generates traffic
// with exact counts and reads the ground truth (VMM counters, device and
// socket statistics). The lab is built to be silent: every count it reports
// comes from the traffic a test sent and nothing else.
//
// Everything needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, /dev/net/tun).
package vmlab
