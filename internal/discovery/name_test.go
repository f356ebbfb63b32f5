package discovery

import (
	"strings"
	"testing"
)

// The expectations below are what QEMU 7.2 answers to query-name for the
// same arguments; "refused" marks arguments QEMU exits on.
func TestParseName(t *testing.T) {
	qemu := "/usr/bin/qemu-system-x86_64"
	tests := []struct {
		name    string
		cmdline []string
		want    string
	}{
		{"libvirt", []string{qemu, "-name", "guest=vm1,debug-threads=on", "-S"}, "vm1"},
		{"plain", []string{qemu, "-name", "vm1"}, "vm1"},
		{"plain with option", []string{qemu, "-name", "vm1,debug-threads=on"}, "vm1"},
		{"escaped commas", []string{qemu, "-name", "vm,,with,,commas"}, "vm,with,commas"},
		{"escaped commas in guest", []string{qemu, "-name", "guest=x,,y,process=p"}, "x,y"},
		{"escaped comma at end", []string{qemu, "-name", "a,,"}, "a,"},
		{"equals sign in value", []string{qemu, "-name", "guest=a=b"}, "a=b"},
		{"implied key keeps escaped equals", []string{qemu, "-name", "a,,b=c"}, "a,b=c"},
		{"guest after other keys", []string{qemu, "-name", "process=p,guest=g"}, "g"},
		{"last guest key wins", []string{qemu, "-name", "g1,guest=g2"}, "g2"},
		{"last -name wins", []string{qemu, "-name", "a", "-name", "b"}, "b"},
		{"later -name without guest keeps it", []string{qemu, "-name", "a", "-name", "debug-threads=on"}, "a"},
		{"later empty -name keeps it", []string{qemu, "-name", "a", "-name", ""}, "a"},
		{"later empty guest clears it", []string{qemu, "-name", "a", "-name", "guest="}, ""},
		{"empty first option", []string{qemu, "-name", ",guest=x"}, "x"},
		{"trailing comma", []string{qemu, "-name", "x,"}, "x"},
		{"double dash", []string{qemu, "--name", "dd"}, "dd"},
		{"bare guest key is the name", []string{qemu, "-name", "guest"}, "guest"},
		{"short-form boolean", []string{qemu, "-name", "a,guest"}, "on"},
		{"short-form negated boolean", []string{qemu, "-name", "a,noguest"}, "off"},
		{"no name", []string{qemu, "-machine", "none", "-netdev", "tap,id=n0"}, ""},
		{"-name= is not a QEMU form (refused)", []string{qemu, "-name=vm1"}, ""},
		{"-name as last argument (refused)", []string{qemu, "-m", "1G", "-name"}, ""},
		{"dangling -name after a name (refused)", []string{qemu, "-name", "a", "-name"}, "a"},
		{"-name takes -name as its value", []string{qemu, "-name", "-name", "x"}, "-name"},
		{"argv[0] is not an option", []string{"-name", "x"}, ""},
		{"unknown key (refused)", []string{qemu, "-name", "vm=1"}, ""},
		{"empty cmdline (kernel thread)", nil, ""},
		{"lab VMM", []string{"vnetlab-vmm", "-name", "guest=lab-a,debug-threads=on", "-netdev", "tap,id=hostnet0,ifname=vnet0"}, "lab-a"},
		{"test helper after --", []string{"discovery.test", "-test.run=^TestHelperProcess$", "--", "-name", "guest=helper-vm"}, "helper-vm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseName(tt.cmdline); got != tt.want {
				t.Errorf("ParseName(%q) = %q, want %q", tt.cmdline, got, tt.want)
			}
		})
	}
}

// escapeOption escapes a value for a QEMU option string.
func escapeOption(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// FuzzParseName checks that any name survives QEMU's escaping after any
// command line, and that no command line makes ParseName panic.
func FuzzParseName(f *testing.F) {
	f.Add("qemu\x00-name\x00guest=vm1,debug-threads=on", "vm,1")
	f.Add("qemu\x00-name\x00", ",,")
	f.Add("qemu\x00--name\x00a,,b,noguest", "")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, cmdline, name string) {
		args := strings.Split(cmdline, "\x00")
		ParseName(args)
		if last := args[len(args)-1]; len(args) > 1 && (last == "-name" || last == "--name") {
			// A dangling -name would take ours as its value, as in QEMU.
			args = append(args, "x")
		}
		args = append(args, "-name", "guest="+escapeOption(name)+",debug-threads=on")
		if got := ParseName(args); got != name {
			t.Fatalf("ParseName(%q) = %q, want %q", args, got, name)
		}
	})
}
