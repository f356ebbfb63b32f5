//go:generate mdatagen metadata.yaml

// Package vnetguestreceiver runs inside a KVM guest and reports the guest's
// part of the virtual network path: virtio-net receive and transmit, NAPI
// and TCP.
package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"
