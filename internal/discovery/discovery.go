package discovery

// Thread is a worker thread of a VM (vhost-<pid> or a configured VMM I/O
// thread).
type Thread struct {
	TID  int
	Name string
}

// VM is one VMM process.
type VM struct {
	// Name is the guest name from the cmdline (see ParseName), "" if absent.
	Name string
	// PID is the VMM process (thread group id).
	PID int
	// Comm is /proc/<pid>/comm, e.g. qemu-system-x86 (QEMU's -name
	// process=... changes it).
	Comm string
	// Taps are the interfaces named in the fdinfo of the process's
	// /dev/net/tun fds, sorted, unique (a multiqueue tap has one fd per queue).
	Taps []string
	// Macvtaps are the ifindexes of the process's /dev/tap<ifindex> fds,
	// sorted, unique.
	Macvtaps []int
	// Workers are the VMM's threads whose name matches a worker glob, plus
	// the kernel threads named vhost-<PID> (vhost workers before Linux 6.4),
	// sorted by TID.
	Workers []Thread
}

// Scanner finds VMMs under a proc root. The zero value scans /proc with the
// default worker globs. A Scanner is safe for concurrent use.
type Scanner struct {
	// Proc is the proc root: "/proc" in production (the default when
	// empty); tests point it at fixtures.
	Proc string
	// WorkerGlobs are thread name patterns (path.Match syntax) that mark a
	// VMM thread as a worker; nil means {"vhost-*"}, the vhost-net workers
	// that are threads of the VMM.
	WorkerGlobs []string
}

// Stats says what a scan saw, for the collector's self-telemetry and logs.
type Stats struct {
	Processes int // numeric entries of the proc root examined
	VMMs      int // processes listed
	Taps      int // sum of len(VM.Taps)
	Macvtaps  int // sum of len(VM.Macvtaps)
	Workers   int // sum of len(VM.Workers)
	// Vanished counts processes that exited mid-scan (ENOENT, ESRCH).
	Vanished int
	// PermissionDenied counts processes whose fds could not be read
	// (EACCES, EPERM): the collector lacks root or CAP_SYS_PTRACE.
	PermissionDenied int
	// Errors counts processes skipped for any other error; FirstError is
	// the first of them, for a log line.
	Errors     int
	FirstError error
}
