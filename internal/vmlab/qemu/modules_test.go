package qemu

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestModName(t *testing.T) {
	for in, want := range map[string]string{
		"lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/virtio_net.ko": "virtio_net",
		"kernel/drivers/char/hw_random/virtio-rng.ko":                       "virtio_rng",
		"kernel/drivers/virtio/virtio_pci.ko.xz":                            "virtio_pci",
		"kernel/net/core/failover.ko.zst":                                   "failover",
		"lib/modules/6.1.0-56-cloud-amd64/modules.builtin":                  "",
		"boot/vmlinuz-6.1.0-56-cloud-amd64":                                 "",
	} {
		if got := modName(in); got != want {
			t.Errorf("modName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The dependencies of Debian 12's cloud kernel, as its modules' depends= say.
var debianDeps = map[string][]string{
	"virtio":                {"virtio_ring"},
	"virtio_ring":           nil,
	"virtio_pci":            {"virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio"},
	"virtio_pci_modern_dev": nil,
	"virtio_pci_legacy_dev": nil,
	"net_failover":          {"failover"},
	"failover":              nil,
	"virtio_net":            {"virtio_ring", "virtio", "net_failover"},
	"virtio_balloon":        {"virtio", "virtio_ring"},
}

func TestLoadOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		builtin map[string]bool
		want    []string
	}{
		{"all modules", nil, []string{"virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio", "virtio_pci", "failover", "net_failover", "virtio_net"}},
		{"virtio core built in", map[string]bool{"virtio": true, "virtio_ring": true, "virtio_pci": true},
			[]string{"failover", "net_failover", "virtio_net"}},
		{"everything built in", map[string]bool{"virtio_pci": true, "virtio_net": true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadOrder(netModules, debianDeps, tc.builtin)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("load order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadOrderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		deps map[string][]string
		want string
	}{
		{"missing", map[string][]string{"virtio_pci": {"virtio"}, "virtio_net": nil}, "module virtio (needed by [virtio_pci]) is neither built in nor in the kernel package"},
		{"cycle", map[string][]string{"virtio_pci": {"a"}, "a": {"b"}, "b": {"a"}, "virtio_net": nil}, "module dependency cycle: virtio_pci -> a -> b -> a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadOrder(netModules, tc.deps, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
