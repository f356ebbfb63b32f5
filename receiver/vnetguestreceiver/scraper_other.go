//go:build !linux

package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"

	"github.com/vnetpath/vnetpath/internal/sharedcomp"
)

type instance struct {
	cfg    *Config
	set    receiver.Settings
	forget func()
	traces consumer.Traces
}

func (*instance) acquire(context.Context) error {
	return errors.New("vnet_guest needs Linux: it attaches eBPF programs to kernel tracepoints")
}

func (*instance) release(context.Context) error { return nil }

func (i *instance) tracesHandle() *sharedcomp.Handle {
	return &sharedcomp.Handle{Acquire: i.acquire, Release: i.release}
}

type guestScraper struct{}

func newGuestScraper(*instance, receiver.Settings) *guestScraper { return &guestScraper{} }

func (*guestScraper) start(context.Context, component.Host) error {
	return errors.New("vnet_guest needs Linux: it attaches eBPF programs to kernel tracepoints")
}

func (*guestScraper) scrape(context.Context) (pmetric.Metrics, error) {
	return pmetric.NewMetrics(), nil
}

func (*guestScraper) shutdown(context.Context) error { return nil }
