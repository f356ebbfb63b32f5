/* Probe group "workers": run-queue wait and run time of the VMs' worker
 * threads (vhost-<pid>, QEMU I/O threads). User space lists their TIDs. */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct vnet_worker {
	__u64 runnable_since;
	__u64 on_cpu_since;
};

/* Keyed by TID; inserted and removed by user space as workers come and go.
 * A task's scheduler events are serialised by its run queue lock, so plain
 * stores into the shared value do not race. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vnet_worker);
} workers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vnet_hist);
} worker_wait SEC(".maps");

/* Bit tid % 4096 set for worker TIDs: most context switches are not a
 * worker's and stop here, before the hash lookups. */
VNET_ID_FILTER_MAP(worker_filter);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vnet_hist);
} worker_runtime SEC(".maps");

SEC("tp_btf/sched_wakeup")
int BPF_PROG(vnet_worker_wakeup, struct task_struct *p)
{
	__u32 tid = p->pid;
	struct vnet_worker *w;

	if (!vnet_id_maybe(&worker_filter, tid))
		return 0;
	w = bpf_map_lookup_elem(&workers, &tid);
	if (w && !w->runnable_since)
		w->runnable_since = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(vnet_worker_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 prev_tid = prev->pid, next_tid = next->pid;
	bool prev_maybe = vnet_id_maybe(&worker_filter, prev_tid);
	bool next_maybe = vnet_id_maybe(&worker_filter, next_tid);
	struct vnet_worker *w = 0;
	struct vnet_hist *h;
	__u64 now;

	if (!prev_maybe && !next_maybe)
		return 0;
	now = bpf_ktime_get_ns();
	if (prev_maybe)
		w = bpf_map_lookup_elem(&workers, &prev_tid);
	if (w) {
		if (w->on_cpu_since) {
			h = bpf_map_lookup_elem(&worker_runtime, &prev_tid);
			if (h)
				vnet_hist_add(h, now - w->on_cpu_since);
			w->on_cpu_since = 0;
		}
		/* Preempted, it waits in the run queue from now on. */
		if (preempt)
			w->runnable_since = now;
	}

	w = next_maybe ? bpf_map_lookup_elem(&workers, &next_tid) : 0;
	if (w) {
		if (w->runnable_since) {
			h = bpf_map_lookup_elem(&worker_wait, &next_tid);
			if (h)
				vnet_hist_add(h, now - w->runnable_since);
			w->runnable_since = 0;
		}
		w->on_cpu_since = now;
	}
	return 0;
}
