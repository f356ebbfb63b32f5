package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// vmInfo names the VMM a device or thread belongs to; zero when none does.
type vmInfo struct {
	name string
	pid  int64
}

// options renders the VM as the metrics' conditional attributes.
func (v vmInfo) options() []metadata.MetricAttributeOption {
	if v.pid == 0 {
		return nil
	}
	return []metadata.MetricAttributeOption{metadata.WithVMNameMetricAttribute(v.name), metadata.WithProcessPidMetricAttribute(v.pid)}
}

type devInfo struct {
	name string
	vm   vmInfo
}

type workerInfo struct {
	name string
	vm   vmInfo
}

// attribution says which VM owns which device and thread. The engine
// publishes a new one after every refresh; readers only read it.
type attribution struct {
	// vmFacing are the devices the kernel maps measure.
	vmFacing map[probes.DevKey]devInfo
	// names holds every device of the watched namespaces, for drops and
	// NAPI polls on devices that are not VM-facing.
	names   map[probes.DevKey]string
	workers map[uint32]workerInfo // by TID
	vmms    map[uint32]vmInfo     // by PID
}

// device returns what is known of a device: VM-facing, or only named.
func (a *attribution) device(k probes.DevKey) devInfo {
	if d, ok := a.vmFacing[k]; ok {
		return d
	}
	return devInfo{name: a.names[k]}
}
