#!/bin/sh
# PID 1 of a vnetlab QEMU guest (internal/vmlab/qemu). The kernel passes the
# command line's vnl_* parameters as environment variables:
#   vnl_name   VM name (hostname)     vnl_ip    address/prefix of eth0
#   vnl_neigh  ip@mac,... static ARP  vnl_port  guest agent TCP port
#   vnl_otlp   host collector's OTLP/gRPC endpoint (host:port)
/bin/busybox --install -s /bin
export PATH=/bin
say() { echo "vnetlab-init: $*"; }
# A failed step powers off at once: QEMU exits and the host shows this console.
die() { say "FAILED: $*"; poweroff -f; }

mount -t proc proc /proc || die "mount /proc"
mount -t sysfs sysfs /sys || die "mount /sys"
mount -t devtmpfs devtmpfs /dev || die "mount /dev"
mount -t tmpfs tmpfs /tmp || die "mount /tmp"
mount -t tracefs tracefs /sys/kernel/tracing || die "mount tracefs"
mount -t bpf bpf /sys/fs/bpf || die "mount bpffs"
hostname "$vnl_name"
# Silent like the netns lab: no IPv6 link-local, DAD, router solicitation, MLD.
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6

while read -r m; do
	insmod "/lib/modules/$m.ko" || die "insmod $m"
done < /etc/vnetlab/modules
i=0
until [ -e /sys/class/net/eth0 ]; do
	i=$((i + 1)); [ $i -gt 100 ] && die "no eth0 after loading $(tr '\n' ' ' < /etc/vnetlab/modules)"
	sleep 0.1
done
ip link set lo up || die "lo up"
ip addr add "$vnl_ip" dev eth0 || die "address $vnl_ip on eth0"
ip link set eth0 up || die "eth0 up"
for n in $(echo "$vnl_neigh" | tr ',' ' '); do
	arp -i eth0 -s "${n%@*}" "${n#*@}" || die "static arp $n"
done
say "eth0 $vnl_ip up, driver $(basename "$(readlink /sys/class/net/eth0/device/driver)")"

pids=""
if [ -x /bin/otelcol-vnetpath ]; then
	VNETPATH_HOST_OTLP="$vnl_otlp" /bin/otelcol-vnetpath --config /etc/vnetpath/guest.yaml &
	pids="$!"
	say "otelcol-vnetpath started, exporting to $vnl_otlp"
fi
/bin/vnetlab-guest -listen ":$vnl_port" -interface eth0 &
pids="$pids $!"

# SIGTERM (the agent's POWEROFF): stop the collector so it flushes, then off.
trap 'say "powering off"; kill -TERM $pids; wait; poweroff -f' TERM
while :; do
	wait
	sleep 1
done
