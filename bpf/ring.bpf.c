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

/* Followed packets in a ring, by skb address. Entries leave at dequeue or
 * free; user space sweeps entries older than the configured age (a free no
 * tracepoint saw). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct vnet_inflight);
} ring_inflight SEC(".maps");

VNET_ERRORS_MAP(ring_errors);
VNET_ID_FILTER_MAP(ring_filter);

/* Follow one packet in ring_sample_every (a power of two): each followed
 * packet costs two clock reads and a map lookup on another CPU at dequeue.
 * Both ends decide from the skb address alone, so a packet not followed
 * costs no lookup at either end. The address is mixed with a salt that
 * changes every 4096 jiffies, so the slab's reuse of a few addresses does
 * not pin the sample to the same packets of every burst for long. */
#define ring_sample_mask() VNET_CONST(ring_sample_mask)

static __always_inline bool sampled(__u64 addr)
{
	if (!ring_sample_mask())
		return true;
	addr = ((addr >> 6) ^ (bpf_jiffies64() >> 12)) * 0x9E3779B97F4A7C15ULL;
	return ((addr >> 40) & ring_sample_mask()) == 0;
}

/* net_dev_start_xmit fires before the driver enqueues: recording at
 * net_dev_xmit would race with a worker that dequeues on another CPU
 * before the tracepoint runs. A drop inside the xmit frees the skb, which
 * frees the entry again. */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(vnet_ring_enqueue, const struct sk_buff *skb, const struct net_device *dev)
{
	struct vnet_inflight in = {};
	__u64 addr;

	if (!vnet_id_maybe(&ring_filter, dev->ifindex))
		return 0;
	addr = vnet_arg_addr(ctx, 0);
	if (!sampled(addr))
		return 0;
	vnet_dev_key_of(dev, &in.dev);
	if (!bpf_map_lookup_elem(&ring_residence, &in.dev))
		return 0;
	in.enqueued_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&ring_inflight, &addr, &in, BPF_ANY) == -E2BIG)
		vnet_count_error(&ring_errors, VNET_ERR_MAP_FULL);
	return 0;
}

/* consume_skb and kfree_skb run for every packet the host frees. They are
 * raw tracepoints: the skb arrives as a number, and a packet that was not
 * followed is told apart by its address alone, without touching the skb or
 * its device (cache lines another CPU owns: several times the cost of the
 * rest of the program). */
SEC("raw_tp/consume_skb")
int vnet_ring_dequeue(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 addr = ctx->args[0];
	struct vnet_inflight *in;
	struct vnet_hist *h;

	if (!sampled(addr))
		return 0;
	in = bpf_map_lookup_elem(&ring_inflight, &addr);
	if (!in)
		return 0;
	h = bpf_map_lookup_elem(&ring_residence, &in->dev);
	if (h)
		vnet_hist_add(h, bpf_ktime_get_ns() - in->enqueued_ns);
	bpf_map_delete_elem(&ring_inflight, &addr);
	return 0;
}

/* A dropped packet's entry must go: its address comes back on another skb,
 * whose free would time a residence it never had. */
static __always_inline void ring_forget(__u64 addr)
{
	if (sampled(addr))
		bpf_map_delete_elem(&ring_inflight, &addr);
}

VNET_NEST_MAP(vnet_ring_drop_nest);

SEC("raw_tp/kfree_skb")
int vnet_ring_drop(struct bpf_raw_tracepoint_args *ctx)
{
	vnet_nest_enter(&vnet_ring_drop_nest, ctx->args[0]);
	ring_forget(ctx->args[0]);
	return 0;
}

/* The drops vnet_ring_drop was skipped for (bpf/vnet.h, struct vnet_nest). */
SEC("raw_tp/kfree_skb")
int vnet_ring_drop_nested(struct bpf_raw_tracepoint_args *ctx)
{
	if (vnet_nest_skipped(&vnet_ring_drop_nest, ctx->args[0]))
		ring_forget(ctx->args[0]);
	return 0;
}
