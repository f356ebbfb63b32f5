package vmlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"

	"github.com/vnetpath/vnetpath/internal/netdev"
	"golang.org/x/sys/unix"
)

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func linkNames() ([]string, error) {
	links, err := netdev.RetryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names, nil
}

// deleteLink deletes a root-netns link by name; a missing link is no error.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func parseMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(fmt.Sprintf("lab MAC %q: %v", s, err)) // built by mac(), always valid
	}
	return m
}

// quietPort makes a bridge port deliver only what the static FDB sends it:
// no learning, no unicast/multicast/broadcast flooding, and isolated from the
// other isolated ports (the VM taps), so one VM's traffic never reaches
// another VM's tap.
func quietPort(link netlink.Link, isolated bool) error {
	name := link.Attrs().Name
	if err := netlink.LinkSetLearning(link, false); err != nil {
		return fmt.Errorf("bridge port %s: learning off: %w", name, err)
	}
	if err := netlink.LinkSetFlood(link, false); err != nil {
		return fmt.Errorf("bridge port %s: unicast flood off: %w", name, err)
	}
	for _, attr := range []int{nl.IFLA_BRPORT_MCAST_FLOOD, nl.IFLA_BRPORT_BCAST_FLOOD} {
		if err := setBrportByte(link.Attrs().Index, attr, 0); err != nil {
			return fmt.Errorf("bridge port %s: flood attr %d off: %w", name, attr, err)
		}
	}
	if isolated {
		if err := netlink.LinkSetIsolated(link, true); err != nil {
			return fmt.Errorf("bridge port %s: isolated: %w", name, err)
		}
	}
	return nil
}

// setBrportByte sets one IFLA_BRPORT_* flag; netlink has no setter for the
// multicast and broadcast flood flags.
func setBrportByte(ifindex, attr int, v byte) error {
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_BRIDGE)
	msg.Index = int32(ifindex)
	req.AddData(msg)
	pi := nl.NewRtAttr(unix.IFLA_PROTINFO|unix.NLA_F_NESTED, nil)
	pi.AddRtAttr(attr, []byte{v})
	req.AddData(pi)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// staticFDB points mac at the bridge port link, never to be learned or aged.
func staticFDB(link netlink.Link, mac string) error {
	err := netlink.NeighSet(&netlink.Neigh{
		LinkIndex:    link.Attrs().Index,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_NOARP,
		Flags:        netlink.NTF_MASTER,
		HardwareAddr: parseMAC(mac),
	})
	if err != nil {
		return fmt.Errorf("static fdb %s on %s: %w", mac, link.Attrs().Name, err)
	}
	return nil
}

// staticNeigh adds a permanent ARP entry, so no ARP request ever leaves.
func staticNeigh(h *netlink.Handle, link netlink.Link, ip netip.Addr, mac string) error {
	err := h.NeighSet(&netlink.Neigh{
		LinkIndex:    link.Attrs().Index,
		Family:       unix.AF_INET,
		State:        netlink.NUD_PERMANENT,
		IP:           net.IP(ip.AsSlice()),
		HardwareAddr: parseMAC(mac),
	})
	if err != nil {
		return fmt.Errorf("static neighbour %s on %s: %w", ip, link.Attrs().Name, err)
	}
	return nil
}

// addrUp gives link its address in the lab subnet and brings it up.
func addrUp(h *netlink.Handle, link netlink.Link, ip netip.Addr, subnet netip.Prefix) error {
	name := link.Attrs().Name
	a := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	if err := h.AddrAdd(link, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", ip, name, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// rootNL is a handle on the calling thread's netns (the root one in the lab's
// owner), as the package-level netlink functions use.
var rootNL = &netlink.Handle{}
