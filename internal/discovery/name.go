package discovery

import "strings"

// ParseName returns the VM name that a QEMU command line (argv, argv[0]
// first) sets, the way QEMU itself reads it: the value of the guest key in
// the options of the last -name (or --name) that sets one, where a first
// option without "=" is the guest key ("-name vm1" is "-name guest=vm1") and
// ",," is an escaped comma. It returns "" if no -name sets a guest.
//
// "-name=vm1" is not a QEMU form (QEMU exits with "invalid option") and is
// ignored. A "-name" with no argument after it is ignored. Options that take
// an argument are not modelled: in "-append -name vm1", QEMU reads "-name"
// as the kernel command line, ParseName reads vm1 as the name.
func ParseName(cmdline []string) string {
	name := ""
	for i := 1; i < len(cmdline)-1; i++ {
		if cmdline[i] != "-name" && cmdline[i] != "--name" {
			continue
		}
		i++
		if guest, ok := guestOption(cmdline[i]); ok {
			name = guest
		}
	}
	return name
}

// guestOption returns the last guest value in a QEMU option string such as
// "guest=vm1,debug-threads=on" (QEMU merges repeated keys, the last wins).
func guestOption(opts string) (guest string, ok bool) {
	for first := true; opts != ""; first = false {
		var key, value string
		key, value, opts = nextOption(opts, first)
		if key == "guest" {
			guest, ok = value, true
		}
	}
	return guest, ok
}

// nextOption splits the first key=value off a QEMU option string.
func nextOption(opts string, first bool) (key, value, rest string) {
	end := strings.IndexAny(opts, "=,")
	switch {
	case end >= 0 && opts[end] == '=':
		value, rest = optionValue(opts[end+1:])
		return opts[:end], value, rest
	case first:
		// The first option may omit its key: -name's implied key is guest.
		value, rest = optionValue(opts)
		return "guest", value, rest
	}
	// A bare key is QEMU's short-form boolean: "key" is key=on, "nokey" key=off.
	key, rest, _ = strings.Cut(opts, ",")
	if k, ok := strings.CutPrefix(key, "no"); ok {
		return k, "off", rest
	}
	return key, "on", rest
}

// optionValue reads a value up to the first single comma, unescaping ",,".
func optionValue(s string) (value, rest string) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			b.WriteString(s)
			return b.String(), ""
		}
		if i+1 < len(s) && s[i+1] == ',' {
			b.WriteString(s[:i+1])
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		return b.String(), s[i+1:]
	}
}
