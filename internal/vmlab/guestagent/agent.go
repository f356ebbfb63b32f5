// Package guestagent is the lab's helper inside a real guest (the QEMU lab)
// and the host's client for it. The guest runs Server (cmd/vnetlab-guest,
// a static binary in the initramfs); tests on the host talk to it over the
// VM network with Client.
//
// The protocol is one request per TCP connection: a command line, then a
// JSON reply line (Reply), with a data stream where the command has one:
//
//	INFO                      -> reply with Info
//	SINK                      <- bytes until the client half-closes; reply with their count and SHA-256
//	SOURCE <n> <seed>         -> reply with the count and SHA-256 of the stream, then n bytes of it
//	SPAN <host:port> <name> <nonce>  -> one span sent by OTLP/gRPC to host:port; reply with its ids
//	POWEROFF                  -> reply, then the server's PowerOff hook (a clean guest shutdown)
//
// SINK and SOURCE give byte-exact transfers in both directions: both ends
// hash what they sent or received.
package guestagent

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
)

// Port is the agent's default TCP port in the guest.
const Port = 7070

// ReadyMarker starts the console line the agent prints once it listens: the
// host's sign that the guest has booted and its NIC is configured.
const ReadyMarker = "vnetlab-guest: ready"

// Info describes the guest NIC the agent was told to report.
type Info struct {
	Interface string `json:"interface"`
	// Driver is the basename of /sys/class/net/<if>/device/driver: virtio_net
	// for a virtio-net NIC; empty for a device with no bus driver.
	Driver string `json:"driver"`
	MAC    string `json:"mac"`
	// Kernel is the guest kernel release (uname -r).
	Kernel string `json:"kernel"`
	// BTF tells whether /sys/kernel/btf/vmlinux exists, which the guest
	// collector's CO-RE programs need.
	BTF bool `json:"btf"`
}

// Transfer is what one end sent or received.
type Transfer struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // hex
}

// SpanRef identifies the span a SPAN command sent.
type SpanRef struct {
	TraceID string `json:"trace_id"` // hex
	SpanID  string `json:"span_id"`  // hex
}

// Reply is the JSON line that answers every command.
type Reply struct {
	Error    string    `json:"error,omitempty"`
	Info     *Info     `json:"info,omitempty"`
	Transfer *Transfer `json:"transfer,omitempty"`
	Span     *SpanRef  `json:"span,omitempty"`
}

// NonceKey is the span attribute that carries a SPAN command's nonce.
const NonceKey = "vnetlab.nonce"

// Pattern returns n bytes of the deterministic stream that SOURCE sends for
// seed; tests also use it as SINK data.
func Pattern(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// Digest reads r to its end and returns what it yielded as a Transfer.
func Digest(r io.Reader) (Transfer, error) { return copyHashed(io.Discard, r) }

// copyHashed copies src to dst and returns what it copied as a Transfer.
func copyHashed(dst io.Writer, src io.Reader) (Transfer, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), src)
	return Transfer{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}
