/* Probe group "trace" in a guest: the guest's hops of followed packets.
 *
 * To the guest: virtio.rx (the guest NIC receives, in NAPI) and tcp.rcv
 * (TCP takes the segment, tcp_probe). From the guest: tcp.xmit (the stack
 * queues the packet on the NIC) and virtio.tx (the driver transmits it).
 * Drops on the guest NICs are traced whether sampled or not.
 *
 * The identity hash and the sampling threshold are the host's, so both
 * sides follow the same packets without talking to each other. */
#include "trace_common.h"

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(vnet_trace_virtio_rx, struct sk_buff *skb)
{
	struct trace_extra x = {.len = skb->len};
	struct vnet_flow f = {};
	__u64 hash, now, addr;

	if (!trace_dev_maybe(skb->dev) || !vnet_parse(skb, &f))
		return 0;
	hash = vnet_flow_hash(&f);
	if (!vnet_sampled(hash) || !trace_dev_watched(skb->dev))
		return 0;
	now = bpf_ktime_get_ns();
	addr = vnet_arg_addr(ctx, 0);
	trace_begin(VNET_HOP_VIRTIO_RX, 0, &f, hash, addr, now, trace_dev_of(skb->dev), x);
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(vnet_trace_tcp_rcv, struct sock *sk, const struct sk_buff *skb)
{
	__u64 addr = vnet_arg_addr(ctx, 1);
	struct tracked *t = trace_lookup(addr);
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct trace_extra x = {.len = skb->len};
	struct vnet_flow f = {};

	if (!t || (t->flags & VNET_TRACE_FROM_GUEST))
		return 0;
	/* A followed segment TCP coalesced into its backlog's tail was freed
	 * with no tracepoint and left its entry: when another socket's
	 * segment reuses the address, it is not that packet. */
	if (!vnet_parse(skb, &f) || vnet_flow_hash(&f) != t->hash) {
		trace_forget(addr);
		return 0;
	}
	x.srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	x.cwnd = BPF_CORE_READ(tp, snd_cwnd);
	trace_end(VNET_HOP_TCP_RCV, t, addr, trace_dev_of(skb->dev), x);
	return 0;
}

/* From the guest: the stack hands the packet to the NIC's queue. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(vnet_trace_tcp_xmit, struct sk_buff *skb)
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
	/* Only TCP has a tcp.xmit hop; every packet is followed to virtio.tx. */
	if (f.proto == IPPROTO_TCP)
		trace_emit(VNET_HOP_TCP_XMIT, flags, &f, hash, now, now, addr, trace_dev_of(skb->dev), x);
	trace_follow(addr, &f, hash, now, flags);
	return 0;
}

/* From the guest: the driver transmits it (virtio: onto the virtqueue). */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(vnet_trace_virtio_tx, const struct sk_buff *skb, const struct net_device *dev)
{
	__u64 addr = vnet_arg_addr(ctx, 0);
	struct tracked *t = trace_lookup(addr);
	struct trace_extra x = {.len = skb->len};

	if (!t || !(t->flags & VNET_TRACE_FROM_GUEST))
		return 0;
	trace_end(VNET_HOP_VIRTIO_TX, t, addr, trace_dev_of(dev), x);
	return 0;
}

/* A followed packet consumed before its last hop (UDP, ICMP) is forgotten. */
SEC("raw_tp/consume_skb")
int vnet_trace_consume(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 addr = ctx->args[0];

	if (trace_lookup(addr))
		trace_forget(addr);
	return 0;
}

static __always_inline void trace_drop(unsigned long long *ctx, struct sk_buff *skb, enum skb_drop_reason reason)
{
	struct trace_extra x = {.len = skb->len, .reason = reason};
	__u64 addr = vnet_arg_addr(ctx, 0), now;
	struct tracked *t = trace_lookup(addr);
	struct vnet_flow f = {};

	if (!trace_dev_maybe(skb->dev) || !trace_dev_watched(skb->dev)) {
		if (t)
			trace_forget(addr);
		return;
	}
	if (t) {
		trace_end(VNET_HOP_DROP, t, addr, trace_dev_of(skb->dev), x);
		return;
	}
	if (!trace_drops() || !trace_drop_allowed() || !vnet_parse(skb, &f))
		return;
	now = bpf_ktime_get_ns();
	trace_emit(VNET_HOP_DROP, 0, &f, vnet_flow_hash(&f), now, now, addr, trace_dev_of(skb->dev), x);
}

VNET_KFREE_SKB_PROGRAMS(vnet_trace_drop, trace_drop)
