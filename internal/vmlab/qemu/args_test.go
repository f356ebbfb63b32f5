package qemu

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetpath/vnetpath/internal/vmlab"
)

func TestQEMUArgs(t *testing.T) {
	l := &vmlab.Layout{
		ID: "vnlab5", Subnet: netip.MustParsePrefix("198.18.5.0/24"),
		ClientIP: netip.MustParseAddr("198.18.5.1"), ClientMAC: "02:76:c1:00:05:00",
		HostIP: netip.MustParseAddr("198.18.5.254"), BridgeMAC: "02:76:b7:00:05:00",
	}
	vm := vmlab.VMLayout{Name: "vnlab5-vm0", HostTap: "vnet7", IP: netip.MustParseAddr("198.18.5.10"), MAC: "02:76:9e:00:05:00", External: true}
	img := &Image{Kernel: "/c/vmlinuz", Initramfs: "/c/initramfs-ab.cpio.gz"}
	common := func(accel, mem, cpus, netdev string) []string {
		return []string{
			"-name", "guest=vnlab5-vm0,debug-threads=on", "-accel", accel, "-m", mem, "-smp", cpus,
			"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
			"-kernel", "/c/vmlinuz", "-initrd", "/c/initramfs-ab.cpio.gz",
			"-append", "console=ttyS0 panic=-1 ipv6.disable=1 vnl_name=vnlab5-vm0 vnl_ip=198.18.5.10/24 " +
				"vnl_neigh=198.18.5.1@02:76:c1:00:05:00,198.18.5.254@02:76:b7:00:05:00 vnl_port=7070 vnl_otlp=198.18.5.254:4317",
			"-netdev", netdev, "-device", "virtio-net-pci,netdev=hostnet0,mac=02:76:9e:00:05:00",
			"-qmp", "unix:/run/vnetlab/vnlab5/vnlab5-vm0.qmp,server=on,wait=off", "-S",
		}
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"defaults: TCG, QEMU's own thread", Options{Image: img},
			common("tcg", "1024", "1", "tap,id=hostnet0,ifname=vnet7,script=no,downscript=no")},
		{"KVM host with vhost-net", Options{Image: img, Accel: "kvm", Vhost: true, MemoryMiB: 2048, CPUs: 2},
			append(common("kvm", "2048", "2", "tap,id=hostnet0,ifname=vnet7,script=no,downscript=no,vhost=on"), "-cpu", "host")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := qemuArgs(tc.opts, l, vm, "198.18.5.254:4317", "/run/vnetlab/vnlab5/vnlab5-vm0.qmp")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("QEMU args (-want +got):\n%s", diff)
			}
		})
	}
}
