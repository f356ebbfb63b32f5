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

/* First raise not yet served, and the running entry, per CPU and vector. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, __u64);
} softirq_raised_at SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, __u64);
} softirq_entered_at SEC(".maps");

SEC("tp_btf/softirq_raise")
int BPF_PROG(vnet_softirq_raise, unsigned int vec)
{
	__u32 k = vec;
	__u64 *ts = bpf_map_lookup_elem(&softirq_raised_at, &k);

	/* Keep the oldest pending raise: the delay a packet sees is from the
	 * first raise until the handler runs. */
	if (ts && *ts == 0)
		*ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(vnet_softirq_entry, unsigned int vec)
{
	__u32 k = vec;
	__u64 now = bpf_ktime_get_ns();
	__u64 *cnt, *raised, *entered;
	struct vnet_hist *h;

	cnt = bpf_map_lookup_elem(&softirq_counts, &k);
	if (cnt)
		(*cnt)++;

	raised = bpf_map_lookup_elem(&softirq_raised_at, &k);
	if (raised && *raised) {
		h = bpf_map_lookup_elem(&softirq_latency, &k);
		if (h)
			vnet_hist_add(h, now - *raised);
		*raised = 0;
	}

	entered = bpf_map_lookup_elem(&softirq_entered_at, &k);
	if (entered)
		*entered = now;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(vnet_softirq_exit, unsigned int vec)
{
	__u32 k = vec;
	__u64 *entered = bpf_map_lookup_elem(&softirq_entered_at, &k);
	struct vnet_hist *h;

	if (!entered || !*entered)
		return 0;
	h = bpf_map_lookup_elem(&softirq_duration, &k);
	if (h)
		vnet_hist_add(h, bpf_ktime_get_ns() - *entered);
	*entered = 0;
	return 0;
}
