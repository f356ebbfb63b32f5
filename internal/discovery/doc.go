// Package discovery finds the virtual machine monitors (VMMs) on a KVM host
// and what they own, so that vnetpath can attribute packets and threads to a
// VM.
//
// A VMM (QEMU, or the lab's fake VMM) looks like this in /proc:
//
//   - /proc/<pid>/fd/<n> is a symlink to /dev/net/tun (one queue of a tap
//     device) or to /dev/tap<ifindex> (one queue of a macvtap device);
//   - /proc/<pid>/fdinfo/<n> of a tun fd has a line "iff:\t<ifname>" naming
//     the tap it is attached to (no such line while unattached);
//   - /proc/<pid>/cmdline carries the VM name: "-name guest=<vm>,..." as
//     libvirt writes it, or "-name <vm>";
//   - its vhost-net workers are named vhost-<pid>: threads of the VMM under
//     /proc/<pid>/task since Linux 6.4, kernel threads with their own
//     /proc/<tid> (child of kthreadd, no file table) before.
//
// Any process that holds a tun or macvtap fd is reported; the caller decides
// what to keep (by Comm, for instance). The scan reads /proc/<pid>/fd of
// every process, and fdinfo, cmdline and task only for processes that hold
// such an fd. It must run in the host's PID namespace, where the pid in a
// vhost-<pid> name is the VMM's pid.
package discovery
