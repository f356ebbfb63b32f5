/* Common definitions for vnetpath's BPF programs. */
#ifndef VNET_H
#define VNET_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* Latency histograms: slot s counts values in (2^(s-1), 2^s] ns, slot 0
 * counts 0 and 1 ns. User space folds slots into the exported bounds. */
#define VNET_HIST_SLOTS 40

/* bpf_map_update_elem's errors: the map is full; BPF_NOEXIST and the key
 * is there. */
#define E2BIG 7
#define EEXIST 17

struct vnet_hist {
	__u64 slots[VNET_HIST_SLOTS];
	__u64 sum_ns;
};

/* floor(log2(v)) for v > 0, branch-free so the verifier sees no loop. */
static __always_inline __u32 vnet_log2(__u64 v)
{
	__u32 r, shift;

	r = (v > 0xFFFFFFFFULL) << 5;
	v >>= r;
	shift = (v > 0xFFFF) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

/* vnet_hist_slot returns ceil(log2(ns)), clamped to the last slot. */
static __always_inline __u32 vnet_hist_slot(__u64 ns)
{
	__u32 s;

	if (ns <= 1)
		return 0;
	s = vnet_log2(ns - 1) + 1;
	return s < VNET_HIST_SLOTS ? s : VNET_HIST_SLOTS - 1;
}

static __always_inline void vnet_hist_add(struct vnet_hist *h, __u64 ns)
{
	__u32 s = vnet_hist_slot(ns);

	/* The bound check is for the verifier; vnet_hist_slot already clamps. */
	if (s < VNET_HIST_SLOTS)
		h->slots[s]++;
	h->sum_ns += ns;
}

/* VNET_CONST(name) is the setting `name`, which the loader writes into the
 * instruction that uses it (internal/probes, Options.Constants). A
 * `volatile const` would be read from the .rodata map on every run: a page
 * of its own, whose TLB entry a host with PTI and no PCID loses at every
 * syscall, so that one read cost more than the rest of some programs. As an
 * immediate it costs nothing, and the verifier prunes what it disables. */
#define VNET_CONST(name)                                                       \
	({                                                                     \
		__u64 __v;                                                     \
		asm volatile("%0 = " #name " ll" : "=r"(__v));                \
		__v;                                                           \
	})

/* A device is named by its network namespace and ifindex: an ifindex alone
 * is ambiguous across namespaces. */
struct vnet_dev_key {
	__u32 netns;
	__u32 ifindex;
};

static __always_inline void vnet_dev_key_of(const struct net_device *dev, struct vnet_dev_key *k)
{
	k->netns = dev->nd_net.net->ns.inum;
	k->ifindex = dev->ifindex;
}

/* A tp_btf pointer argument (an skb) as a plain number, to hash or key a
 * map by: the verifier forbids arithmetic on the typed pointer. */
static __always_inline __u64 vnet_arg_addr(unsigned long long *ctx, int i)
{
	__u64 addr = 0;

	bpf_probe_read_kernel(&addr, sizeof(addr), &ctx[i & 7]);
	return addr;
}

/* A cheap pre-filter before hash lookups, which cost tens of ns on every
 * event: bit id % 4096 is set by user space when some watched device has
 * that ifindex (or worker that TID). A single array slot, so the lookup is
 * inlined to a pointer. */
#define VNET_ID_FILTER_WORDS 64

struct vnet_id_filter {
	__u64 bits[VNET_ID_FILTER_WORDS];
};

#define VNET_ID_FILTER_MAP(name)                                              \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__uint(max_entries, 1);                                        \
		__type(key, __u32);                                            \
		__type(value, struct vnet_id_filter);                         \
	} name SEC(".maps")

static __always_inline bool vnet_id_maybe(void *filter_map, __u32 ifindex)
{
	__u32 zero = 0;
	struct vnet_id_filter *f = bpf_map_lookup_elem(filter_map, &zero);

	if (!f)
		return false;
	return (f->bits[(ifindex >> 6) & (VNET_ID_FILTER_WORDS - 1)] >> (ifindex & 63)) & 1;
}

/* Overflow slots shared by the groups' `<group>_errors` per-CPU arrays. */
enum vnet_error {
	VNET_ERR_MAP_FULL = 0,
	VNET_ERR_NR = 4,
};

#define VNET_ERRORS_MAP(name)                                                  \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                       \
		__uint(max_entries, VNET_ERR_NR);                              \
		__type(key, __u32);                                            \
		__type(value, __u64);                                          \
	} name SEC(".maps")

static __always_inline void vnet_count_error(void *map, __u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(map, &slot);

	if (c)
		(*c)++;
}

/* The kernel runs a program at most once per CPU at a time. An event that
 * fires while the program runs on that CPU, e.g. in the softirq an
 * interrupt runs on its way out of a program that was freeing an skb in
 * process context, is skipped and only counted (the program's
 * recursion_misses): a whole NET_RX run of drops can go unseen that way.
 * Programs whose every event counts have a twin, `<name>_nested`, attached
 * after them on the same hook. The primary pushes its event's key on a
 * per-CPU stack first thing; the twin pops it when it is on top, and runs
 * the body only when it is not: the primary was skipped for this event.
 * A flag set around the body would miss the skips that land in the
 * kernel's code around it, which is most of them for a short body. What
 * the stack gets wrong comes from the twin's own skips, which leave keys
 * behind: at most one event lost or run twice per twin skip. */
#define VNET_NEST_DEPTH 4

struct vnet_nest {
	__u64 keys[VNET_NEST_DEPTH];
	__u32 depth;
	__u32 pad;
	__u64 recovered; /* events the twin ran the body for */
};

#define VNET_NEST_MAP(name)                                                    \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                       \
		__uint(max_entries, 1);                                        \
		__type(key, __u32);                                            \
		__type(value, struct vnet_nest);                              \
	} name SEC(".maps")

/* vnet_nest_enter: the primary announces the event it runs for. */
static __always_inline void vnet_nest_enter(void *map, __u64 key)
{
	__u32 zero = 0;
	struct vnet_nest *n = bpf_map_lookup_elem(map, &zero);
	__u32 d;

	if (!n)
		return;
	d = n->depth;
	/* Full only of keys the twin's skips left behind. */
	if (d >= VNET_NEST_DEPTH)
		d = 0;
	n->keys[d] = key;
	n->depth = d + 1;
}

/* vnet_nest_skipped: the twin asks whether the primary was skipped for
 * this event (true: run the body) or ran for it. */
static __always_inline bool vnet_nest_skipped(void *map, __u64 key)
{
	__u32 zero = 0;
	struct vnet_nest *n = bpf_map_lookup_elem(map, &zero);
	__u32 d;

	if (!n)
		return false;
	d = n->depth;
	if (d > 0 && d <= VNET_NEST_DEPTH && n->keys[d - 1] == key) {
		n->depth = d - 1;
		return false;
	}
	n->recovered++;
	return true;
}

/* A tp_btf program on kfree_skb and its twin, each running body(ctx, skb,
 * reason): the twin for the skbs the primary was skipped for. */
#define VNET_KFREE_SKB_PROGRAMS(name, body)                                    \
	VNET_NEST_MAP(name##_nest);                                            \
	SEC("tp_btf/kfree_skb")                                                \
	int BPF_PROG(name, struct sk_buff *skb, void *location, enum skb_drop_reason reason) \
	{                                                                      \
		vnet_nest_enter(&name##_nest, ctx[0]);                         \
		body(ctx, skb, reason);                                        \
		return 0;                                                      \
	}                                                                      \
	SEC("tp_btf/kfree_skb")                                                \
	int BPF_PROG(name##_nested, struct sk_buff *skb, void *location, enum skb_drop_reason reason) \
	{                                                                      \
		if (vnet_nest_skipped(&name##_nest, ctx[0]))                   \
			body(ctx, skb, reason);                                \
		return 0;                                                      \
	}

#endif /* VNET_H */
