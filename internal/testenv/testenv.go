// Package testenv holds helpers shared by vnetpath's tests.
package testenv

import (
	"context"
	"os"
	"testing"
	"time"
)

// StrictEnv, when set (make test sets it), turns a missing privilege or
// kernel feature into a failure: CI runs as root on a kernel with BTF, so a
// skip there would hide a test that must run.
const StrictEnv = "VNETPATH_TEST_STRICT"

// RequireRoot skips a test that needs root; under StrictEnv it fails
// instead.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		skip(tb, "needs root: BPF programs, network namespaces, bridges, /dev/net/tun")
	}
}

// RequireBTF skips a test that needs the running kernel's BTF; under
// StrictEnv it fails instead.
func RequireBTF(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		skip(tb, "kernel has no BTF: "+err.Error())
	}
}

func skip(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv(StrictEnv) != "" {
		tb.Fatalf("%s (%s is set: this run must not skip)", why, StrictEnv)
	}
	tb.Skip(why)
}

// Context ends after d, or when the test ends.
func Context(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
