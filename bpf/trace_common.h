/* Maps and helpers every trace object (host and guest) declares: the traced
 * devices, the ring buffer, the followed packets and their cheap pre-filter,
 * and the drop budget. */
#ifndef VNET_TRACE_COMMON_H
#define VNET_TRACE_COMMON_H

#include "trace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Keeps the record type in the object's BTF, for bpf2go and the layout test. */
const volatile struct vnet_trace_event *const trace_event_type = 0;

/* The devices traced: the VM-facing ones on the host, the NICs in a guest.
 * The ifindex pre-filter, then the exact (netns, ifindex). */
VNET_ID_FILTER_MAP(trace_filter);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vnet_dev_key);
	__type(value, __u8);
} trace_devices SEC(".maps");

/* trace_dev_maybe is the cheap half: the ifindex filter. trace_dev_watched
 * adds the exact lookup for a device that passed it, worth it only for a
 * packet about to be followed. */
static __always_inline bool trace_dev_maybe(const struct net_device *dev)
{
	return dev && vnet_id_maybe(&trace_filter, dev->ifindex);
}

static __always_inline bool trace_dev_watched(const struct net_device *dev)
{
	struct vnet_dev_key k;

	vnet_dev_key_of(dev, &k);
	return bpf_map_lookup_elem(&trace_devices, &k) != 0;
}

#define trace_drops() ((bool)VNET_CONST(trace_drops)) /* tracing.always_trace_drops */

/* Records for user space: one per hop of a followed packet, one per drop. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} trace_events SEC(".maps");

enum trace_error {
	TRACE_ERR_MAP_FULL = 0,     /* a packet could not be followed: trace_skbs full */
	TRACE_ERR_RING_FULL = 1,    /* a record was lost: ring buffer full */
	TRACE_ERR_DROPS_LIMITED = 2, /* a drop not traced: over the drop rate */
	TRACE_ERR_MAP_BUSY = 3,     /* a packet could not be followed: trace_skbs busy */
};

VNET_ERRORS_MAP(trace_errors);

/* A followed packet, by skb address. */
struct tracked {
	struct vnet_flow flow;
	__u64 hash;
	__u64 last_ns; /* when its previous hop ended */
	__u16 flags;
	__u16 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tracked);
} trace_skbs SEC(".maps");

/* How many followed skbs hash to each slot. Every free in the kernel checks
 * its slot first: a zero, the usual answer, costs one read of a small,
 * rarely written array, where a hash lookup would cost cache misses. 4 KiB:
 * an array that small sits in the kernel's direct map (huge pages), where
 * 32 KiB were vmalloc'd, and a free's random 4 KiB page of them cost a TLB
 * walk after every syscall on a host with PTI and no PCID. */
#define TRACE_SLOTS 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACE_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} trace_slots SEC(".maps");

static __always_inline __u32 *trace_slot(__u64 addr)
{
	__u32 i = (__u32)((addr >> 6) * 0x9E3779B97F4A7C15ULL >> 51) & (TRACE_SLOTS - 1);

	return bpf_map_lookup_elem(&trace_slots, &i);
}

/* Map updates and deletes take a bucket lock, and the kernel refuses them
 * (-EBUSY) on a CPU that interrupted a program holding a lock of the same
 * map: the softirq that receives a followed packet, say, on the way out of
 * an interrupt that hit a program following an ACK in process context.
 * Lookups take no lock, so an entry found is written in place instead. */
#define ENOENT 2 /* bpf_map_delete_elem: no such key */

/* trace_follow remembers an skb for its next hops. */
static __always_inline void trace_follow(__u64 addr, const struct vnet_flow *f, __u64 hash, __u64 now, __u16 flags)
{
	struct tracked t = {}, *old;
	__u32 *slot;
	long err;

	t.flow = *f;
	t.hash = hash;
	t.last_ns = now;
	t.flags = flags;
	err = bpf_map_update_elem(&trace_skbs, &addr, &t, BPF_NOEXIST);
	if (err) {
		/* An entry is there (left by an skb freed where no tracepoint
		 * saw it, or forgotten while the map was busy) and its address
		 * came back, or the map is busy: replace it where it is. */
		old = bpf_map_lookup_elem(&trace_skbs, &addr);
		if (old) {
			*old = t;
			return;
		}
		/* Forgotten on another CPU in between: a new entry after all. */
		if (err == -EEXIST)
			err = bpf_map_update_elem(&trace_skbs, &addr, &t, BPF_NOEXIST);
	}
	if (err) {
		vnet_count_error(&trace_errors, err == -E2BIG ? TRACE_ERR_MAP_FULL : TRACE_ERR_MAP_BUSY);
		return;
	}
	slot = trace_slot(addr);
	if (slot)
		__sync_fetch_and_add(slot, 1);
}

/* trace_lookup returns the followed packet at addr, if any. */
static __always_inline struct tracked *trace_lookup(__u64 addr)
{
	__u32 *slot = trace_slot(addr);
	struct tracked *t;

	if (!slot || !*slot)
		return 0;
	t = bpf_map_lookup_elem(&trace_skbs, &addr);
	return t && !(t->flags & VNET_TRACE_DEAD) ? t : 0;
}

/* trace_forget stops following the skb at addr. An entry the busy map
 * would not delete stays, dead to lookups, until its address is followed
 * again; it keeps its slot counted. */
static __always_inline void trace_forget(__u64 addr)
{
	struct tracked *t;
	__u32 *slot;
	long err;

	err = bpf_map_delete_elem(&trace_skbs, &addr);
	if (err) {
		t = err == -ENOENT ? 0 : bpf_map_lookup_elem(&trace_skbs, &addr);
		if (t)
			t->flags |= VNET_TRACE_DEAD;
		return;
	}
	slot = trace_slot(addr);
	if (slot)
		__sync_fetch_and_add(slot, (__u32)-1); /* no fetch-and-sub before -mcpu=v3 */
}

/* The hop's device, as the record names it; zero for none. */
static __always_inline struct vnet_dev_key trace_dev_of(const struct net_device *dev)
{
	struct vnet_dev_key k = {};

	if (dev)
		vnet_dev_key_of(dev, &k);
	return k;
}

/* trace_dev_of for raw tracepoints, whose device pointer is untyped. */
static __always_inline struct vnet_dev_key trace_dev_read(const struct net_device *dev)
{
	struct vnet_dev_key k = {};

	if (dev) {
		k.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
		k.ifindex = BPF_CORE_READ(dev, ifindex);
	}
	return k;
}

/* What a record says beyond the hop, the packet and the times. */
struct trace_extra {
	__u32 len;
	__u32 reason;
	__u32 srtt_us;
	__u32 cwnd;
};

/* trace_emit writes one record; a full ring buffer is counted. */
static __always_inline void trace_emit(__u16 hop, __u16 flags, const struct vnet_flow *f, __u64 hash, __u64 start,
				       __u64 end, __u64 skb, struct vnet_dev_key dev, struct trace_extra x)
{
	struct vnet_trace_event *e = bpf_ringbuf_reserve(&trace_events, sizeof(*e), 0);
	__u64 id;

	if (!e) {
		vnet_count_error(&trace_errors, TRACE_ERR_RING_FULL);
		return;
	}
	id = bpf_get_current_pid_tgid();
	e->ts_ns = end;
	e->start_ns = start;
	e->hash = hash;
	e->skb = skb;
	e->flow = *f;
	e->netns = dev.netns;
	e->ifindex = dev.ifindex;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cpu = bpf_get_smp_processor_id();
	e->len = x.len;
	e->reason = x.reason;
	e->srtt_us = x.srtt_us;
	e->snd_cwnd = x.cwnd;
	e->hop = hop;
	e->flags = flags & ~VNET_TRACE_QUEUED;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* No wakeup per record: the reader drains on its flush deadline, and a
	 * wakeup costs microseconds in the traced packet's path. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* trace_begin records the instant hop where a packet starts being followed,
 * and follows it from there. */
static __always_inline void trace_begin(__u16 hop, __u16 flags, const struct vnet_flow *f, __u64 hash, __u64 addr,
					__u64 now, struct vnet_dev_key dev, struct trace_extra x)
{
	trace_emit(hop, flags, f, hash, now, now, addr, dev, x);
	trace_follow(addr, f, hash, now, flags);
}

/* trace_end records the hop that ends here, from the followed packet's
 * previous hop until now, and stops following it. */
static __always_inline void trace_end(__u16 hop, const struct tracked *t, __u64 addr, struct vnet_dev_key dev,
				      struct trace_extra x)
{
	trace_emit(hop, t->flags, &t->flow, t->hash, t->last_ns, bpf_ktime_get_ns(), addr, dev, x);
	trace_forget(addr);
}

/* Drops are traced even when not sampled, up to this many per second and
 * CPU: a drop storm must not flood the ring buffer. The budget refills by
 * jiffies, free to read where a clock read costs tens of ns; user space
 * measures HZ. */
#define trace_drops_per_sec() VNET_CONST(trace_drops_per_sec)
#define trace_hz() VNET_CONST(trace_hz)

struct drop_budget {
	__u64 tokens;
	__u64 last_jiffies;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_budget);
} trace_drop_budget SEC(".maps");

/* trace_drop_allowed takes a token, or counts the drop as not traced. */
static __always_inline bool trace_drop_allowed(void)
{
	__u32 zero = 0;
	struct drop_budget *b = bpf_map_lookup_elem(&trace_drop_budget, &zero);
	__u64 now = bpf_jiffies64(), elapsed, refill;

	if (!b)
		return false;
	elapsed = now - b->last_jiffies;
	/* A second or more refills the bucket; less refills in proportion. */
	refill = elapsed >= trace_hz() ? trace_drops_per_sec() : elapsed * trace_drops_per_sec() / trace_hz();
	if (refill) {
		b->tokens = b->tokens + refill > trace_drops_per_sec() ? trace_drops_per_sec() : b->tokens + refill;
		b->last_jiffies = now;
	}
	if (!b->tokens) {
		vnet_count_error(&trace_errors, TRACE_ERR_DROPS_LIMITED);
		return false;
	}
	b->tokens--;
	return true;
}

#endif /* VNET_TRACE_COMMON_H */
