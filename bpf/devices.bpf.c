/* Probe group "devices": packets and bytes each VM-facing device accepted,
 * per direction. User space inserts one zeroed entry per VM-facing device;
 * a device without an entry is not counted, so the map is also the filter. */
#include "vnet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct vnet_dev_counters {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vnet_dev_key);
	__type(value, struct vnet_dev_counters);
} dev_counters SEC(".maps");

VNET_ID_FILTER_MAP(dev_filter);

/* Transmit: the device accepted the packet (rc == NETDEV_TX_OK). A packet
 * dropped inside the driver's xmit, e.g. FULL_RING in tun, returns an error
 * and counts only as a drop. */
SEC("tp_btf/net_dev_xmit")
int BPF_PROG(vnet_dev_xmit, struct sk_buff *skb, int rc, struct net_device *dev, unsigned int len)
{
	struct vnet_dev_key k;
	struct vnet_dev_counters *c;

	if (rc != 0 || !vnet_id_maybe(&dev_filter, dev->ifindex))
		return 0;
	vnet_dev_key_of(dev, &k);
	c = bpf_map_lookup_elem(&dev_counters, &k);
	if (!c)
		return 0;
	c->tx_packets++;
	c->tx_bytes += len;
	return 0;
}

/* On receive the link header is already pulled: count the frame as the
 * device saw it, like its rx_bytes statistic and like transmit does. */
static __always_inline __u32 vnet_frame_len(const struct sk_buff *skb)
{
	__u16 mac = skb->mac_header;
	unsigned char *head = skb->head, *data = skb->data;

	if (mac == (__u16)~0U || data < head + mac)
		return skb->len;
	return skb->len + (__u32)(data - (head + mac));
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(vnet_dev_receive, struct sk_buff *skb)
{
	struct vnet_dev_key k;
	struct vnet_dev_counters *c;

	if (!vnet_id_maybe(&dev_filter, skb->dev->ifindex))
		return 0;
	vnet_dev_key_of(skb->dev, &k);
	c = bpf_map_lookup_elem(&dev_counters, &k);
	if (!c)
		return 0;
	c->rx_packets++;
	c->rx_bytes += vnet_frame_len(skb);
	return 0;
}
