/* Probe group "napi": NAPI polls per device, the packets they processed and
 * how often a poll used its whole budget (the device had more work). */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct vnet_napi_counters {
	__u64 polls;
	__u64 work;
	__u64 budget_exhausted;
	char name[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vnet_dev_key);
	__type(value, struct vnet_napi_counters);
} napi_counters SEC(".maps");

VNET_ERRORS_MAP(napi_errors);

SEC("tp_btf/napi_poll")
int BPF_PROG(vnet_napi_poll, struct napi_struct *napi, int work, int budget)
{
	struct net_device *dev = napi->dev;
	struct vnet_napi_counters *c, zero = {};
	struct vnet_dev_key k = {};

	if (!dev)
		return 0;
	vnet_dev_key_of(dev, &k);
	c = bpf_map_lookup_elem(&napi_counters, &k);
	if (!c) {
		/* The name travels with the counters: the device may live in a
		 * namespace the collector does not watch. */
		bpf_probe_read_kernel_str(zero.name, sizeof(zero.name), dev->name);
		if (bpf_map_update_elem(&napi_counters, &k, &zero, BPF_NOEXIST) == -E2BIG) {
			vnet_count_error(&napi_errors, VNET_ERR_MAP_FULL);
			return 0;
		}
		c = bpf_map_lookup_elem(&napi_counters, &k);
		if (!c)
			return 0;
	}
	c->polls++;
	if (work > 0)
		c->work += work;
	if (work >= budget)
		c->budget_exhausted++;
	return 0;
}
