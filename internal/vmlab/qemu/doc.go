// Package qemu is the VM lab with a real guest: a Debian kernel under QEMU
// (TCG here, KVM on a KVM host) with a virtio-net-pci NIC on a tap netdev
// that joins a vmlab lab's bridge, so packets take the path of a libvirt VM
// without vhost-net:
//
//	netns client --veth--> bridge (198.18.k.254 in the root netns) --> tap vnetN
//	    --> QEMU main loop thread (reads/writes the tap fd)
//	    --> virtio-net in the guest kernel --> guest TCP (agent, collector)
//
// Assemble builds the guest from Debian packages only (apt-get download of
// linux-image-cloud-amd64's kernel and busybox-static) into a cached
// initramfs with the virtio-net modules, the lab's agent (cmd/vnetlab-guest)
// and optionally the static otelcol-vnetpath with deploy/guest.yaml. Boot
// starts QEMU paused, hands its tap to the lab (vmlab.VM.AdoptTap), resumes
// it over QMP and waits for the agent's ready line on the serial console.
// Guest.Agent talks to the agent from the lab's client netns: NIC info,
// byte-exact transfers both ways, a probe span through the guest collector,
// clean poweroff.
//
// Addresses come from the lab's /24 of 198.18.0.0/15 (vmlab's allocation,
// under its lock): client .1, guest .10, host .254 on the bridge, where a
// host collector's OTLP receiver listens for the guest collector. ARP is
// static on every side and IPv6 is off, as in the netns lab.
//
// Everything needs root. README.md says how the same runs on a KVM host.
package qemu
