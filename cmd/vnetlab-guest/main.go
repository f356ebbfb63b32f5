// Command vnetlab-guest is the lab's agent inside a real guest (the QEMU
// lab's initramfs): it answers internal/vmlab/guestagent's protocol on TCP
// (NIC info, byte-exact transfers, an OTLP probe span, clean poweroff).
// It is built static (CGO_ENABLED=0): the initramfs has no libc.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/vnetpath/vnetpath/internal/vmlab/guestagent"
)

func main() {
	listen := flag.String("listen", fmt.Sprintf(":%d", guestagent.Port), "TCP address to listen on")
	iface := flag.String("interface", "eth0", "the guest NIC that INFO reports")
	flag.Parse()
	if err := run(*listen, *iface); err != nil {
		fmt.Fprintln(os.Stderr, "vnetlab-guest:", err)
		os.Exit(1)
	}
}

func run(listen, iface string) error {
	ln, err := net.Listen("tcp4", listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &guestagent.Server{
		Interface: iface,
		// PID 1 (the initramfs's /init) stops the collector and powers off on SIGTERM.
		PowerOff: func() error { return syscall.Kill(1, syscall.SIGTERM) },
	}
	fmt.Printf("%s on %s, interface %s\n", guestagent.ReadyMarker, ln.Addr(), iface)
	return srv.Serve(ctx, ln)
}
