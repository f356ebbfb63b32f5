//go:build linux

package vnetguestreceiver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver/internal/metadata"
)

func TestStartChecksNetNS(t *testing.T) {
	set := receivertest.NewNopSettings(metadata.Type)
	r := newGuestReceiver(&Config{NetNS: "/proc/self/ns/net"}, set)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, r.Shutdown(context.Background()))

	r = newGuestReceiver(&Config{NetNS: "/proc/self/ns/mnt"}, set)
	require.ErrorContains(t, r.Start(context.Background(), componenttest.NewNopHost()), "/proc/self/ns/mnt is not a network namespace")
	r = newGuestReceiver(&Config{NetNS: "/nonexistent/ns"}, set)
	require.ErrorContains(t, r.Start(context.Background(), componenttest.NewNopHost()), "no such file")
}
