/* Probe group "trace" on the host: the host's hops of followed packets.
 *
 * To the guest: host.rx (from the start of the NET_RX softirq that received
 * the packet until it is queued to the tap), tap.enqueue (in the tap's qdisc
 * until the tap's xmit), tap.ring (until the VM's worker thread dequeues
 * it), or a drop with its reason. From the
 * guest: tap.rx (the tap receives in the worker thread) and host.tx (xmit on
 * the host's way out).
 *
 * A packet is followed when its identity hash falls under the sampling
 * threshold, or when its identity was dropped before (a retransmission).
 * Drops on VM-facing devices are traced whether sampled or not. */
#include "trace_common.h"

/* Identities dropped before, so their retransmission is followed. Every
 * packet to a VM asks whether it was dropped: two bitmaps by hash answer
 * "no" at the cost of one array read, before the exact LRU lookup. Drops
 * set bits in the current one; user space clears the older one and swaps
 * them every few seconds, longer than a retransmission takes. */
#define DROPPED_BITS 65536

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* per-CPU LRU lists: no shared lock per drop */
	__type(key, __u64);
	__type(value, __u8);
} trace_dropped SEC(".maps");

struct dropped_bits {
	__u64 words[DROPPED_BITS / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct dropped_bits);
} trace_dropped_bits SEC(".maps");

/* Which of the two bitmaps drops set now (its low bit). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} trace_dropped_gen SEC(".maps");

static __always_inline bool dropped_bit(__u32 which, __u64 hash, bool set)
{
	struct dropped_bits *b = bpf_map_lookup_elem(&trace_dropped_bits, &which);
	__u32 bit = (__u32)(hash >> 32) & (DROPPED_BITS - 1);

	if (!b)
		return false;
	if (set) {
		__sync_fetch_and_or(&b->words[bit / 64], 1ULL << (bit & 63));
		return true;
	}
	return (b->words[bit / 64] >> (bit & 63)) & 1;
}

static __always_inline bool maybe_dropped(__u64 hash)
{
	return dropped_bit(0, hash, false) || dropped_bit(1, hash, false);
}

static __always_inline void remember_dropped(__u64 hash)
{
	__u32 zero = 0, *gen = bpf_map_lookup_elem(&trace_dropped_gen, &zero);
	__u8 one = 1;

	if (!gen)
		return;
	dropped_bit(*gen & 1, hash, true);
	bpf_map_update_elem(&trace_dropped, &hash, &one, BPF_ANY);
}

/* When this CPU's running NET_RX softirq began, 0 outside one: host.rx
 * starts there. Softirqs do not nest on a CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} trace_rx_softirq SEC(".maps");

#define NET_RX_VEC 3

static __always_inline void rx_softirq(__u64 ts)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&trace_rx_softirq, &zero);

	if (v)
		*v = ts;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(vnet_trace_rx_begin, unsigned int vec)
{
	if (vec == NET_RX_VEC)
		rx_softirq(bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(vnet_trace_rx_end, unsigned int vec)
{
	if (vec == NET_RX_VEC)
		rx_softirq(0);
	return 0;
}

/* Should this packet be followed? Sampled, or a retransmission of an
 * identity that was dropped. */
static __always_inline bool follow(__u64 hash, __u16 *flags)
{
	if (vnet_sampled(hash))
		return true;
	if (trace_drops() && maybe_dropped(hash) && bpf_map_lookup_elem(&trace_dropped, &hash)) {
		*flags |= VNET_TRACE_FORCED;
		return true;
	}
	return false;
}

/* to_follow parses a packet on a tap and decides whether to follow it. */
static __always_inline bool to_follow(const struct sk_buff *skb, const struct net_device *dev, struct vnet_flow *f,
				      __u64 *hash, __u16 *flags)
{
	if (!vnet_parse(skb, f))
		return false;
	*hash = vnet_flow_hash(f);
	return follow(*hash, flags) && trace_dev_watched(dev);
}

/* The skb this CPU's vnet_trace_queue last saw and did not follow, so that
 * its xmit, on the same CPU unless a qdisc held it, does not parse it again.
 * Used once. Every packet to a tap is queued before its xmit and overwrites
 * it, and a GSO packet's segments are made while it still holds its
 * address: only an skb at the address of one queued here, freed unsent, and
 * xmitted here unqueued (a segment of a packet another CPU queued) could be
 * skipped by mistake. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} trace_passed SEC(".maps");

/* host.rx: from the start of this CPU's NET_RX softirq, if one is running,
 * until now. */
static __always_inline void host_rx(const struct sk_buff *skb, const struct net_device *dev, const struct vnet_flow *f,
				    __u64 hash, __u16 flags, __u64 addr, __u64 now)
{
	struct trace_extra x = {.len = skb->len};
	__u32 zero = 0;
	__u64 *rx = bpf_map_lookup_elem(&trace_rx_softirq, &zero);
	struct vnet_dev_key in;

	if (!rx || !*rx || !skb->skb_iif)
		return;
	in = trace_dev_of(dev);
	in.ifindex = skb->skb_iif;
	trace_emit(VNET_HOP_HOST_RX, flags, f, hash, *rx, now, addr, in, x);
}

/* Queued to a tap, in the softirq that received the packet: host.rx ends
 * here, whatever CPU or thread later runs the tap's qdisc and xmits it. A
 * GSO packet is left to the xmit, where its segments, new skbs, pass. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(vnet_trace_queue, struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	struct vnet_flow f = {};
	__u64 hash, now, addr;
	__u16 flags = 0;
	__u32 zero = 0;
	__u64 *passed;

	if (!trace_dev_maybe(dev))
		return 0;
	passed = bpf_map_lookup_elem(&trace_passed, &zero);
	if (!passed)
		return 0;
	addr = vnet_arg_addr(ctx, 0);
	if (!to_follow(skb, dev, &f, &hash, &flags)) {
		*passed = addr;
		return 0;
	}
	*passed = 0;
	if (BPF_CORE_READ((struct skb_shared_info *)(skb->head + skb->end), gso_size))
		return 0;
	now = bpf_ktime_get_ns();
	host_rx(skb, dev, &f, hash, flags, addr, now);
	trace_follow(addr, &f, hash, now, flags | VNET_TRACE_QUEUED);
	return 0;
}

/* The tap's xmit: tap.enqueue, from the queueing above (its time in the
 * tap's qdisc), or instant for a packet that was not queued as itself. */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(vnet_trace_enqueue, const struct sk_buff *skb, const struct net_device *dev)
{
	struct trace_extra x = {.len = skb->len};
	struct vnet_flow f = {};
	__u64 hash, now, addr, *passed;
	struct tracked *t;
	__u16 flags = 0;
	__u32 zero = 0;

	if (!trace_dev_maybe(dev))
		return 0;
	addr = vnet_arg_addr(ctx, 0);
	/* Followed first: a verdict left here by a packet another CPU sent
	 * may name this address. */
	t = trace_lookup(addr);
	if (t && (t->flags & VNET_TRACE_QUEUED)) {
		now = bpf_ktime_get_ns();
		trace_emit(VNET_HOP_TAP_ENQUEUE, t->flags, &t->flow, t->hash, t->last_ns, now, addr, trace_dev_of(dev), x);
		t->last_ns = now;
		t->flags &= ~VNET_TRACE_QUEUED;
		return 0;
	}
	passed = bpf_map_lookup_elem(&trace_passed, &zero);
	if (passed && *passed == addr) {
		*passed = 0;
		return 0;
	}
	/* Not decided at its queueing here: a GSO packet or its segments, an
	 * unsampled packet another CPU queued, an xmit that bypassed qdiscs. */
	if (!to_follow(skb, dev, &f, &hash, &flags))
		return 0;
	now = bpf_ktime_get_ns();
	host_rx(skb, dev, &f, hash, flags, addr, now);
	trace_begin(VNET_HOP_TAP_ENQUEUE, flags, &f, hash, addr, now, trace_dev_of(dev), x);
	return 0;
}

/* Every skb the host consumes passes here; a dequeue by the VM's worker is
 * the one that ends a followed packet's tap.ring hop. */
SEC("raw_tp/consume_skb")
int vnet_trace_dequeue(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 addr = ctx->args[0];
	struct tracked *t = trace_lookup(addr);
	struct sk_buff *skb = (struct sk_buff *)addr;

	if (!t)
		return 0;
	/* Not through the tap's xmit (still QUEUED): no ring dequeue. */
	if (!(t->flags & (VNET_TRACE_FROM_GUEST | VNET_TRACE_QUEUED))) {
		struct trace_extra x = {.len = BPF_CORE_READ(skb, len)};

		trace_emit(VNET_HOP_TAP_RING, t->flags, &t->flow, t->hash, t->last_ns, bpf_ktime_get_ns(), addr,
			   trace_dev_read(BPF_CORE_READ(skb, dev)), x);
	}
	trace_forget(addr);
	return 0;
}

/* Drops: on a VM-facing device, traced whether followed or not (up to the
 * drop rate), and the identity is remembered for its retransmission. A
 * followed packet freed elsewhere is forgotten. */
static __always_inline void trace_drop(unsigned long long *ctx, struct sk_buff *skb, enum skb_drop_reason reason)
{
	struct trace_extra x = {.len = skb->len, .reason = reason};
	__u64 addr = vnet_arg_addr(ctx, 0), hash, now;
	struct tracked *t = trace_lookup(addr);
	struct vnet_flow f = {};
	__u16 flags = 0;

	if (!trace_dev_maybe(skb->dev)) {
		if (t)
			trace_forget(addr);
		return;
	}
	if (t) {
		hash = t->hash;
		flags = t->flags;
		trace_end(VNET_HOP_DROP, t, addr, trace_dev_of(skb->dev), x);
	} else {
		/* The rate check first: a drop storm must not pay for parsing. */
		if (!trace_drops() || !trace_drop_allowed() || !trace_dev_watched(skb->dev) || !vnet_parse(skb, &f))
			return;
		hash = vnet_flow_hash(&f);
		/* Received on this tap: the guest sent it, and the guest's side
		 * owns the trace's root. */
		if (skb->skb_iif == skb->dev->ifindex)
			flags |= VNET_TRACE_FROM_GUEST;
		now = bpf_ktime_get_ns();
		trace_emit(VNET_HOP_DROP, flags, &f, hash, now, now, addr, trace_dev_of(skb->dev), x);
	}
	/* Only a packet going to the guest comes back through the tap's xmit. */
	if (trace_drops() && !(flags & VNET_TRACE_FROM_GUEST))
		remember_dropped(hash);
}

VNET_KFREE_SKB_PROGRAMS(vnet_trace_drop, trace_drop)

/* From the guest: the worker writes the guest's frame into the tap, which
 * receives it here. */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(vnet_trace_tap_rx, struct sk_buff *skb)
{
	struct trace_extra x = {.len = skb->len};
	struct vnet_flow f = {};
	__u16 flags = VNET_TRACE_FROM_GUEST;
	__u64 hash, now, addr;

	if (!trace_dev_maybe(skb->dev) || !vnet_parse(skb, &f))
		return 0;
	hash = vnet_flow_hash(&f);
	if (!vnet_sampled(hash) || !trace_dev_watched(skb->dev))
		return 0;
	now = bpf_ktime_get_ns();
	addr = vnet_arg_addr(ctx, 0);
	trace_begin(VNET_HOP_TAP_RX, flags, &f, hash, addr, now, trace_dev_of(skb->dev), x);
	return 0;
}

/* From the guest: the host transmits it on its way out (a bridge port, the
 * uplink). The skb is the one the tap received. */
SEC("raw_tp/net_dev_xmit")
int vnet_trace_host_tx(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 addr = ctx->args[0];
	struct tracked *t = trace_lookup(addr);
	struct net_device *d = (struct net_device *)ctx->args[2];
	struct trace_extra x = {.len = (__u32)ctx->args[3]};

	if (!t || !(t->flags & VNET_TRACE_FROM_GUEST) || (int)ctx->args[1] != 0)
		return 0;
	trace_end(VNET_HOP_HOST_TX, t, addr, trace_dev_read(d), x);
	return 0;
}
