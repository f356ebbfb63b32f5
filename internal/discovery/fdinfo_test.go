package discovery

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseIff(t *testing.T) {
	tests := []struct {
		name   string
		fdinfo string
		want   string
		ok     bool
	}{
		{"attached tap", "pos:\t0\nflags:\t0104002\nmnt_id:\t24\nino:\t105\niff:\tvnet3\n", "vnet3", true},
		{"no trailing newline", "pos:\t0\niff:\tvnet3", "vnet3", true},
		{"longest name", "iff:\tabcdefghijklmno\n", "abcdefghijklmno", true},
		{"unattached tun fd", "pos:\t0\nflags:\t0104002\nmnt_id:\t24\nino:\t105\n", "", false},
		{"empty name", "pos:\t0\niff:\t\n", "", false},
		{"key must start the line", "pos:\t0\nxiff:\tvnet3\n", "", false},
		{"key must be followed by a tab", "iff: vnet3\n", "", false},
		{"first iff line wins", "iff:\ta\niff:\tb\n", "a", true},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseIff([]byte(tt.fdinfo))
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseIff(%q) = %q, %v; want %q, %v", tt.fdinfo, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzParseIff checks that a name found is a non-empty line remainder of the
// input, and that any valid interface name put in a tun fdinfo comes back.
func FuzzParseIff(f *testing.F) {
	f.Add([]byte("pos:\t0\nflags:\t0104002\nmnt_id:\t24\nino:\t105\niff:\tvnet3\n"), "vnet3")
	f.Add([]byte("iff:"), "x")
	f.Add([]byte("iff: \t \n"), "tap-0.1")
	f.Fuzz(func(t *testing.T, fdinfo []byte, ifname string) {
		if got, ok := ParseIff(fdinfo); ok {
			if got == "" || !bytes.Contains(fdinfo, []byte(got)) || strings.Contains(got, "\n") {
				t.Fatalf("ParseIff(%q) = %q", fdinfo, got)
			}
		}
		if !validIfname(ifname) {
			return
		}
		info := []byte("pos:\t0\nflags:\t0104002\nmnt_id:\t24\nino:\t105\niff:\t" + ifname + "\n")
		if got, ok := ParseIff(info); !ok || got != ifname {
			t.Fatalf("ParseIff(%q) = %q, %v; want %q", info, got, ok, ifname)
		}
	})
}

// validIfname mirrors the kernel's dev_valid_name (its isspace includes
// Latin-1's 0xa0).
func validIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for _, c := range []byte(s) {
		if c == 0 || c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0 {
			return false
		}
	}
	return true
}
