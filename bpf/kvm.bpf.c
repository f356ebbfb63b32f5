/* Probe group "kvm": interrupts KVM injects into each VM and the guest's
 * notifications (kicks), per VMM process (tgid). */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct vnet_kvm_counters {
	__u64 msi_irqs;  /* kvm_msi_set_irq: irqfd injection, in the vhost task */
	__u64 gsi_irqs;  /* kvm_set_irq: the slow path */
	__u64 fast_mmio; /* kvm_fast_mmio: ioeventfd kicks, in vCPU threads */
	__u64 mmio;      /* kvm_mmio writes */
	__u64 pio;       /* kvm_pio out: legacy virtio kicks */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct vnet_kvm_counters);
} kvm_counters SEC(".maps");

VNET_ERRORS_MAP(kvm_errors);

static __always_inline struct vnet_kvm_counters *counters(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct vnet_kvm_counters zero = {}, *c;

	c = bpf_map_lookup_elem(&kvm_counters, &tgid);
	if (c)
		return c;
	if (bpf_map_update_elem(&kvm_counters, &tgid, &zero, BPF_NOEXIST) == -E2BIG) {
		vnet_count_error(&kvm_errors, VNET_ERR_MAP_FULL);
		return 0;
	}
	return bpf_map_lookup_elem(&kvm_counters, &tgid);
}

SEC("tp_btf/kvm_msi_set_irq")
int BPF_PROG(vnet_kvm_msi, __u64 address, __u64 data)
{
	struct vnet_kvm_counters *c = counters();

	if (c)
		c->msi_irqs++;
	return 0;
}

SEC("tp_btf/kvm_set_irq")
int BPF_PROG(vnet_kvm_gsi, unsigned int gsi, int level, int irq_source_id)
{
	struct vnet_kvm_counters *c;

	/* Each edge is set then cleared; count the assertions. */
	if (!level)
		return 0;
	c = counters();
	if (c)
		c->gsi_irqs++;
	return 0;
}

SEC("tp_btf/kvm_fast_mmio")
int BPF_PROG(vnet_kvm_fast_mmio, __u64 gpa)
{
	struct vnet_kvm_counters *c = counters();

	if (c)
		c->fast_mmio++;
	return 0;
}

SEC("tp_btf/kvm_mmio")
int BPF_PROG(vnet_kvm_mmio, int type, int len, __u64 gpa)
{
	struct vnet_kvm_counters *c;

	if (type != 2) /* KVM_TRACE_MMIO_WRITE */
		return 0;
	c = counters();
	if (c)
		c->mmio++;
	return 0;
}

SEC("tp_btf/kvm_pio")
int BPF_PROG(vnet_kvm_pio, unsigned int rw)
{
	struct vnet_kvm_counters *c;

	if (rw != 1) /* KVM_PIO_OUT */
		return 0;
	c = counters();
	if (c)
		c->pio++;
	return 0;
}
