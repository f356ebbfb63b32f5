/* Packet identity and trace records, shared by the host and guest trace
 * programs. internal/pathtrace decodes the records; internal/identity
 * mirrors the flow layout and the sampling hash in Go. */
#ifndef VNET_TRACE_H
#define VNET_TRACE_H

#include "vnet.h"
#include <bpf/bpf_endian.h>

#define IPPROTO_ICMPV6 58

/* A packet's identity: what stays the same across the tap boundary, where
 * the skb itself does not (the guest's skb is a new allocation). Addresses
 * are raw network-order words, IPv4 in the first word; ports in host
 * order. Padding is zero so the bytes are canonical. */
struct vnet_flow {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport; /* ICMP: type */
	__u16 dport; /* ICMP: code */
	__u8 family; /* 4 or 6 */
	__u8 proto;  /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u16 pad0;
	__u32 seq; /* TCP sequence; ICMP echo: id << 16 | sequence */
	__u32 ack; /* TCP acknowledgment */
	__u32 aux; /* UDP over IPv4: IP id; UDP over IPv6: first payload bytes folded */
	__u32 pad1;
};

enum vnet_hop {
	VNET_HOP_HOST_RX = 1,     /* host softirq: ingress device -> queued to the tap */
	VNET_HOP_TAP_ENQUEUE = 2, /* queued to the tap -> its xmit into the ring */
	VNET_HOP_TAP_RING = 3,    /* in the ring until the VM's worker dequeues */
	VNET_HOP_DROP = 4,        /* freed with a drop reason */
	VNET_HOP_TAP_RX = 5,      /* from the guest: the tap receives in the worker */
	VNET_HOP_HOST_TX = 6,     /* from the guest: xmit on the host's way out */
	VNET_HOP_VIRTIO_RX = 7,   /* guest NIC receive (NAPI) */
	VNET_HOP_TCP_RCV = 8,     /* guest TCP receive (tcp_probe) */
	VNET_HOP_VIRTIO_TX = 9,   /* guest NIC xmit */
	VNET_HOP_TCP_XMIT = 10,   /* guest stack hands a TCP segment to the NIC */
};

enum vnet_trace_flag {
	/* Traced because its identity was dropped before: a retransmission. */
	VNET_TRACE_FORCED = 1,
	/* Sent by the guest (its hops run guest -> tap -> host). */
	VNET_TRACE_FROM_GUEST = 2,
	/* Host, never in a record: in the tap's qdisc, its tap.enqueue pending. */
	VNET_TRACE_QUEUED = 4,
	/* Never in a record: forgotten, but the map was busy (trace_forget). */
	VNET_TRACE_DEAD = 8,
};

/* One record per hop of a followed packet, and per drop. */
struct vnet_trace_event {
	__u64 ts_ns;    /* CLOCK_MONOTONIC: when the hop ended */
	__u64 start_ns; /* when it began; == ts_ns for an instant hop */
	__u64 hash;     /* sampling hash of the flow */
	__u64 skb;      /* skb address, for debugging */
	struct vnet_flow flow;
	__u32 netns;   /* the hop's device */
	__u32 ifindex;
	__u32 pid; /* current task: tgid and thread */
	__u32 tid;
	__u32 cpu;
	__u32 len;      /* skb->len */
	__u32 reason;   /* VNET_HOP_DROP: enum skb_drop_reason */
	__u32 srtt_us;  /* VNET_HOP_TCP_RCV: smoothed RTT */
	__u32 snd_cwnd; /* VNET_HOP_TCP_RCV: congestion window */
	__u16 hop;
	__u16 flags;
	char comm[16]; /* current thread's name */
};

/* Sampling: both sides hash the flow with the same key (tracing.key) and
 * follow a packet when the hash falls under the threshold, so host and
 * guest pick the same packets without talking to each other. */
#define trace_key0() VNET_CONST(trace_key0)
#define trace_key1() VNET_CONST(trace_key1)
#define trace_threshold() VNET_CONST(trace_threshold) /* follow if hash < threshold */
#define trace_all() ((bool)VNET_CONST(trace_all))      /* sampling ratio 1.0 */

static __always_inline __u64 vnet_mix(__u64 h, __u64 w)
{
	h ^= w;
	h *= 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 32);
}

/* The flow's i-th little-endian 64-bit word, read without type punning. */
static __always_inline __u64 vnet_flow_word(const struct vnet_flow *f, int i)
{
	__u64 w;

	__builtin_memcpy(&w, (const char *)f + 8 * i, sizeof(w));
	return w;
}

static __always_inline __u64 vnet_flow_hash(const struct vnet_flow *f)
{
	__u64 h = trace_key0();

	h = vnet_mix(h, vnet_flow_word(f, 0));
	h = vnet_mix(h, vnet_flow_word(f, 1));
	h = vnet_mix(h, vnet_flow_word(f, 2));
	h = vnet_mix(h, vnet_flow_word(f, 3));
	h = vnet_mix(h, vnet_flow_word(f, 4));
	h = vnet_mix(h, vnet_flow_word(f, 5));
	h = vnet_mix(h, vnet_flow_word(f, 6));
	h = vnet_mix(h, trace_key1());
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ULL;
	return h ^ (h >> 32);
}

static __always_inline bool vnet_sampled(__u64 hash)
{
	return trace_all() || hash < trace_threshold();
}

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

/* vnet_parse fills f from the skb's headers (IPv4/IPv6, optionally behind
 * one VLAN tag, then TCP/UDP/ICMP). Returns false for anything else. */
static __always_inline bool vnet_parse(const struct sk_buff *skb, struct vnet_flow *f)
{
	unsigned char *head = skb->head;
	__u16 proto = bpf_ntohs(skb->protocol);
	__u16 nh = skb->network_header;
	__u8 buf[68];
	__u32 l4;

	if (nh == (__u16)~0U)
		return false;
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
		/* An in-band tag: network_header points at it. */
		__be16 inner;

		if (bpf_probe_read_kernel(&inner, sizeof(inner), head + nh + 2))
			return false;
		proto = bpf_ntohs(inner);
		nh += 4;
	}
	if (bpf_probe_read_kernel(buf, sizeof(buf), head + nh))
		return false;
	if (proto == ETH_P_IP && (buf[0] >> 4) == 4) {
		__u32 ihl = (buf[0] & 0xF) * 4;

		if (ihl < 20)
			return false;
		f->family = 4;
		f->proto = buf[9];
		__builtin_memcpy(&f->saddr[0], &buf[12], 4);
		__builtin_memcpy(&f->daddr[0], &buf[16], 4);
		if (f->proto == IPPROTO_UDP)
			f->aux = (__u32)buf[4] << 8 | buf[5]; /* IP id */
		l4 = ihl;
		if (ihl != 20) {
			/* Options: read the transport header where it is. */
			if (bpf_probe_read_kernel(buf, 20, head + nh + (ihl & 0x3F)))
				return false;
			l4 = 0;
		}
	} else if (proto == ETH_P_IPV6 && (buf[0] >> 4) == 6) {
		f->family = 6;
		f->proto = buf[6];
		__builtin_memcpy(f->saddr, &buf[8], 16);
		__builtin_memcpy(f->daddr, &buf[24], 16);
		/* The transport header at 40: with extension headers, proto
		 * names one and the switch below refuses the packet. */
		if (bpf_probe_read_kernel(buf, 28, head + nh + 40))
			return false;
		l4 = 0;
	} else {
		return false;
	}

	/* buf + l4 is the transport header; l4 is 0 or 20 here. */
	__u8 *t = l4 ? &buf[20] : &buf[0];

	switch (f->proto) {
	case IPPROTO_TCP:
		f->sport = (__u16)t[0] << 8 | t[1];
		f->dport = (__u16)t[2] << 8 | t[3];
		f->seq = (__u32)t[4] << 24 | (__u32)t[5] << 16 | (__u32)t[6] << 8 | t[7];
		f->ack = (__u32)t[8] << 24 | (__u32)t[9] << 16 | (__u32)t[10] << 8 | t[11];
		return true;
	case IPPROTO_UDP:
		f->sport = (__u16)t[0] << 8 | t[1];
		f->dport = (__u16)t[2] << 8 | t[3];
		if (f->family == 6) {
			/* No IP id in IPv6: the first payload bytes tell packets
			 * apart. Bytes past a short payload count as zero, so both
			 * sides agree whatever follows the packet in memory. */
			__u16 plen = ((__u16)t[4] << 8 | t[5]) - 8;
			__u8 p[8];
			__u32 a, b;

			__builtin_memcpy(p, &t[8], 8);
#pragma unroll
			for (int i = 0; i < 8; i++)
				if (i >= plen)
					p[i] = 0;
			__builtin_memcpy(&a, &p[0], 4);
			__builtin_memcpy(&b, &p[4], 4);
			f->aux = a ^ (b * 0x9E3779B1U);
		}
		return true;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		f->sport = t[0];
		f->dport = t[1];
		f->seq = (__u32)t[4] << 24 | (__u32)t[5] << 16 | (__u32)t[6] << 8 | t[7];
		return true;
	}
	return false;
}

#endif /* VNET_TRACE_H */
