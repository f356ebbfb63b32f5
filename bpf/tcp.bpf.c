/* Probe group "tcp" in a guest: retransmitted segments and smoothed RTT
 * samples of the guest's TCP sockets, in the watched network namespaces. */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Network namespaces (inode) whose sockets count. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} tcp_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tcp_retransmits SEC(".maps");

/* One histogram of srtt samples (us in, ns slots: the shared layout). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnet_hist);
} tcp_srtt SEC(".maps");

static __always_inline bool watched(const struct sock *sk)
{
	__u32 ns = sk->__sk_common.skc_net.net->ns.inum;

	return bpf_map_lookup_elem(&tcp_netns, &ns) != 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(vnet_tcp_retransmit, const struct sock *sk)
{
	__u32 zero = 0;
	__u64 *n;

	if (!watched(sk))
		return 0;
	n = bpf_map_lookup_elem(&tcp_retransmits, &zero);
	if (n)
		(*n)++;
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(vnet_tcp_probe, struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	struct vnet_hist *h;
	__u32 zero = 0;

	if (!watched(sk))
		return 0;
	h = bpf_map_lookup_elem(&tcp_srtt, &zero);
	if (h)
		vnet_hist_add(h, (__u64)(BPF_CORE_READ(tp, srtt_us) >> 3) * 1000);
	return 0;
}
