//go:build !linux

package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/receiver"
)

type guestReceiver struct{}

func newGuestReceiver(*Config, receiver.Settings) *guestReceiver { return &guestReceiver{} }

func (*guestReceiver) Start(context.Context, component.Host) error {
	return errors.New("vnet_guest needs Linux: it attaches eBPF programs to kernel tracepoints")
}

func (*guestReceiver) Shutdown(context.Context) error { return nil }
