// Package testenv holds helpers shared by vnetpath's tests.
package testenv

import (
	"os"
	"testing"
)

// RequireRoot skips a privileged test when not run as root. CI runs as
// root, so these tests run there.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: loads BPF programs and creates network namespaces")
	}
}
