package identity

import (
	"crypto/sha256"
	"encoding/binary"
)

// Key keys every hash of this package: the first 16 bytes of SHA-256 of the
// tracing.key config string. Collectors that must join their traces need
// the same string.
type Key [16]byte

// NewKey derives the key from the tracing.key string.
func NewKey(s string) Key {
	sum := sha256.Sum256([]byte(s))
	return Key(sum[:16])
}

// Words are the key's little-endian halves: SipHash's k0 and k1, and the
// BPF constants trace_key0 and trace_key1.
func (k Key) Words() (k0, k1 uint64) {
	return binary.LittleEndian.Uint64(k[0:8]), binary.LittleEndian.Uint64(k[8:16])
}
