package main

import "runtime"

// The main goroutine keeps the main thread: the worker names its locked
// thread vhost-<pid>, and on the main thread that name would become the
// process's comm, which tools (and the signal action's allow list) read
// as the VMM's name, as they read qemu-system-x86 for QEMU.
func init() { runtime.LockOSThread() }
