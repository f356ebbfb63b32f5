/* Probe group "ring": how long a packet waits in a tap's ring, from the
 * device's xmit until the VM's worker dequeues it (consume_skb in the
 * vhost/QEMU thread). Packets are followed by skb address. */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct vnet_inflight {
	__u64 enqueued_ns;
	struct vnet_dev_key dev;
};

/* One zeroed histogram per VM-facing device, inserted by user space; it is
 * also the device filter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vnet_dev_key);
	__type(value, struct vnet_hist);
} ring_residence SEC(".maps");

/* Packets in a ring. Entries leave at consume or free; user space sweeps
 * entries older than the configured age (a free the tracepoints missed). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct vnet_inflight);
} ring_inflight SEC(".maps");

VNET_ERRORS_MAP(ring_errors);

/* net_dev_start_xmit fires before the driver enqueues: recording at
 * net_dev_xmit would race with a worker that dequeues on another CPU
 * before the tracepoint runs. A drop inside the xmit frees the skb, which
 * removes the entry again. */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(vnet_ring_enqueue, const struct sk_buff *skb, const struct net_device *dev)
{
	struct vnet_inflight in = {};
	__u64 addr = (__u64)skb;

	vnet_dev_key_of(dev, &in.dev);
	if (!bpf_map_lookup_elem(&ring_residence, &in.dev))
		return 0;
	in.enqueued_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&ring_inflight, &addr, &in, BPF_ANY) == -E2BIG)
		vnet_count_error(&ring_errors, VNET_ERR_MAP_FULL);
	return 0;
}

SEC("tp_btf/consume_skb")
int BPF_PROG(vnet_ring_dequeue, struct sk_buff *skb)
{
	__u64 addr = (__u64)skb;
	struct vnet_inflight *in = bpf_map_lookup_elem(&ring_inflight, &addr);
	struct vnet_hist *h;

	if (!in)
		return 0;
	h = bpf_map_lookup_elem(&ring_residence, &in->dev);
	if (h)
		vnet_hist_add(h, bpf_ktime_get_ns() - in->enqueued_ns);
	bpf_map_delete_elem(&ring_inflight, &addr);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(vnet_ring_drop, struct sk_buff *skb)
{
	__u64 addr = (__u64)skb;

	bpf_map_delete_elem(&ring_inflight, &addr);
	return 0;
}
