//go:generate mdatagen metadata.yaml

// Package vnethostreceiver attaches vnetpath's BPF probes on a KVM host and
// reports the virtual network path of every VM as metrics.
package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"
