/* Probe group "drops": packets freed with a drop reason, per device and
 * reason. User space lists the VM-facing devices in drop_devices unless
 * all_devices is set. */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* drops.all_devices: count drops on every device. */
#define all_devices() ((bool)VNET_CONST(all_devices))

struct vnet_drop_key {
	struct vnet_dev_key dev;
	__u32 reason;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vnet_dev_key);
	__type(value, __u8);
} drop_devices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vnet_drop_key);
	__type(value, __u64);
} drop_counts SEC(".maps");

VNET_ERRORS_MAP(drop_errors);

VNET_ID_FILTER_MAP(drop_filter);

/* One drop by device and reason; ctx unused, VNET_KFREE_SKB_PROGRAMS passes it. */
static __always_inline void count_drop(unsigned long long *ctx, const struct sk_buff *skb, enum skb_drop_reason reason)
{
	struct vnet_drop_key k = {};
	struct net_device *dev = skb->dev;
	__u64 one = 1, *c;

	if (dev) {
		if (!all_devices() && !vnet_id_maybe(&drop_filter, dev->ifindex))
			return;
		vnet_dev_key_of(dev, &k.dev);
	} else if (!all_devices()) {
		return;
	}
	k.reason = reason;
	/* A key only exists for a device that passed the filter. */
	c = bpf_map_lookup_elem(&drop_counts, &k);
	if (c) {
		(*c)++;
		return;
	}
	if (!all_devices() && !bpf_map_lookup_elem(&drop_devices, &k.dev))
		return;
	if (bpf_map_update_elem(&drop_counts, &k, &one, BPF_NOEXIST) == -E2BIG)
		vnet_count_error(&drop_errors, VNET_ERR_MAP_FULL);
}

VNET_KFREE_SKB_PROGRAMS(vnet_kfree_skb, count_drop)
