// Package vmlab builds a KVM-style virtual network path on any Linux box and
// tears it down again:
//
//	netns client --veth--> bridge --> host tap vnetN --> VMM process
//	    (thread vhost-<pid>, cmdline "-name guest=<vm>") --> tap in the VM's
//	    netns (the guest NIC, with the VM's address and a TCP/UDP stack)
//
// It injects faults (VMM pause and per-frame delay, drop-every-Nth,
// txqueuelen, tbf on the client veth, a TUNSETFILTEREBPF filter on the host
// tap), generates traffic with exact counts (UDPBurst, TCPBulk,
// TCPRequestResponse) and reads the ground truth (VMM counters, device
// statistics of every lab device, the netns's /proc/net/snmp).
//
// # Names, addresses, lifetime
//
// A lab takes a free slot k (0..511) under a machine-wide lock
// (StateDir/lock); its id is "vnlab<k>" and every object it makes is named
// "<id>-...", except the host taps, named vnetN like libvirt's (N free and
// not reserved by another live lab). Its subnet is the k-th /24 of
// 198.18.0.0/15; the bridge has no address and nothing routes to the
// machine's uplink. The layout (names, addresses, owner pid and start time,
// VMM pids) is written to StateDir before anything is created, so New and
// Sweep remove what a lab whose owner died left behind, and nothing of a
// live lab. VMMs die with their owner (Pdeathsig) and their taps with them
// (non-persistent tun devices). While a lab is open, SIGINT and SIGTERM tear
// it down and then end the process as they would have.
//
// # Silence
//
// Tests compare counts with ground truth exactly, so an idle lab sends
// nothing, from its creation on (TestIdleLabIsSilent): IPv6 is off on every
// lab device before it goes up (no link-local address, DAD, router
// solicitation or MLD); ARP entries are static in the client and guest
// netns; the bridge has no STP and no multicast snooping, its ports do not
// learn or flood (unicast, multicast, broadcast) and hold static FDB
// entries; the VM taps are isolated ports. What still moves is what a test
// causes, including the kernel's own answers: TCP ACK/FIN exchanges and ICMP
// port unreachable for a datagram to a closed port (rate-limited per peer),
// so send UDP only while a receiver listens. Take deltas of Snapshot (after
// Settle) to account for it. Toward a guest the veth carries GSO
// super-packets that the tap's xmit segments: compare frame counts from the
// host tap on, not from the veth.
//
// Everything needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, /dev/net/tun).
package vmlab
