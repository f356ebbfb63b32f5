/* Probe group "softirq": per-CPU softirq runs, scheduling delay
 * (raise -> entry) and run time (entry -> exit) for every vector. */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Per-CPU maps: a softirq is raised, run and finished on one CPU, so the
 * timestamps and counters need no atomics. Index: softirq vector. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, __u64);
} softirq_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, struct vnet_hist);
} softirq_latency SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, struct vnet_hist);
} softirq_duration SEC(".maps");

/* Per CPU and vector: the raise being timed and the run it led to. Only one
 * raise in softirq_sample_mask + 1 is timed: a softirq runs for about every
 * packet a VM worker writes, and each clock read costs tens of ns there. */
struct softirq_state {
	__u64 raised_at;  /* the timed raise, 0 when none is pending */
	__u64 entered_at; /* the timed run, 0 when none is running */
	__u64 raises;     /* raises seen while none was pending */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, struct softirq_state);
} softirq_state SEC(".maps");

#define softirq_sample_mask() VNET_CONST(softirq_sample_mask)

SEC("tp_btf/softirq_raise")
int BPF_PROG(vnet_softirq_raise, unsigned int vec)
{
	__u32 k = vec;
	struct softirq_state *st = bpf_map_lookup_elem(&softirq_state, &k);

	/* Time from the first raise: the delay a packet sees is from the
	 * first raise until the handler runs. */
	if (!st || st->raised_at)
		return 0;
	if ((st->raises++ & softirq_sample_mask()) == 0)
		st->raised_at = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(vnet_softirq_entry, unsigned int vec)
{
	__u32 k = vec;
	struct softirq_state *st;
	struct vnet_hist *h;
	__u64 *cnt, now;

	cnt = bpf_map_lookup_elem(&softirq_counts, &k);
	if (cnt)
		(*cnt)++;
	st = bpf_map_lookup_elem(&softirq_state, &k);
	if (!st || !st->raised_at)
		return 0;
	now = bpf_ktime_get_ns();
	h = bpf_map_lookup_elem(&softirq_latency, &k);
	if (h)
		vnet_hist_add(h, now - st->raised_at);
	st->raised_at = 0;
	st->entered_at = now;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(vnet_softirq_exit, unsigned int vec)
{
	__u32 k = vec;
	struct softirq_state *st = bpf_map_lookup_elem(&softirq_state, &k);
	struct vnet_hist *h;

	if (!st || !st->entered_at)
		return 0;
	h = bpf_map_lookup_elem(&softirq_duration, &k);
	if (h)
		vnet_hist_add(h, bpf_ktime_get_ns() - st->entered_at);
	st->entered_at = 0;
	return 0;
}
