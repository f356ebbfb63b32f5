/* Probe group "workers": run-queue wait and run time of the VMs' worker
 * threads (vhost-<pid>, QEMU I/O threads). User space lists their TIDs. */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct vnet_worker {
	__u64 runnable_since;
	/* The thread's CPU time (se.sum_exec_runtime) at its last switch seen,
	 * in or out; 0 until one is. */
	__u64 cpu_ns;
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

/* hist_since adds the time from *since until now to tid's histogram in
 * map and clears *since; a 0 means the span was not timed. */
static __always_inline void hist_since(void *map, const __u32 *tid, __u64 *since, __u64 now)
{
	struct vnet_hist *h;

	if (!*since)
		return;
	h = bpf_map_lookup_elem(map, tid);
	if (h)
		vnet_hist_add(h, now - *since);
	*since = 0;
}

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
	__u64 now;

	if (!prev_maybe && !next_maybe)
		return 0;
	now = bpf_ktime_get_ns();
	if (prev_maybe)
		w = bpf_map_lookup_elem(&workers, &prev_tid);
	if (w) {
		__u64 cpu_ns = prev->se.sum_exec_runtime;
		struct vnet_hist *h = bpf_map_lookup_elem(&worker_runtime, &prev_tid);

		/* The slice is what the thread's CPU time grew by since its last
		 * switch seen, so a switch in the tracepoint never reported (seen
		 * here for switches away from the VM's own agent) loses no slice. */
		if (h && w->cpu_ns)
			vnet_hist_add(h, cpu_ns - w->cpu_ns);
		w->cpu_ns = cpu_ns;
		/* Preempted, it waits in the run queue from now on; otherwise a
		 * wakeup whose switch in was missed must not stretch its next wait. */
		w->runnable_since = preempt ? now : 0;
	}

	w = next_maybe ? bpf_map_lookup_elem(&workers, &next_tid) : 0;
	if (w) {
		hist_since(&worker_wait, &next_tid, &w->runnable_since, now);
		w->cpu_ns = next->se.sum_exec_runtime;
	}
	return 0;
}
