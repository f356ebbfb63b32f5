package discovery

import "bytes"

// ParseIff returns the interface named by the "iff:\t<name>" line of a tun
// fd's /proc/<pid>/fdinfo/<fd>. ok is false when there is no such line or it
// names nothing: the fd is not attached to an interface (yet).
func ParseIff(fdinfo []byte) (name string, ok bool) {
	for line := range bytes.Lines(fdinfo) {
		// The kernel writes "iff:\t%s\n" (tun_chr_show_fdinfo).
		if v, found := bytes.CutPrefix(line, []byte("iff:\t")); found {
			v = bytes.TrimSuffix(v, []byte("\n"))
			return string(v), len(v) > 0
		}
	}
	return "", false
}
