package action

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplate(t *testing.T) {
	tmpl, err := ParseTemplate("/run/qemu/domain-{{ vm.name }}/{{network.interface.name}}.sock")
	require.NoError(t, err)
	assert.Equal(t, "/run/qemu/domain-{{vm.name}}/{{network.interface.name}}.sock", tmpl.String())
	out, err := tmpl.Render(groupLookup(&testEvent, nil))
	require.NoError(t, err)
	assert.Equal(t, "/run/qemu/domain-web-1/vnet3.sock", out)
}

func TestTemplateRefused(t *testing.T) {
	for s, want := range map[string]string{
		"/a/{{vm.name":   `"{{" without "}}"`,
		"/a/vm.name}}":   `"}}" without "{{"`,
		"{{}}":           `"" is not a variable name`,
		"{{vm name}}":    `"vm name" is not a variable name`,
		"{{1abc}}":       `"1abc" is not a variable name`,
		"x}}{{vm.name}}": `"}}" without "{{"`,
	} {
		_, err := ParseTemplate(s)
		assert.ErrorContains(t, err, want, s)
	}
}

// Group values go into paths and arguments only when they look like a
// name: no "/", no space, no "..", no leading "-".
func TestUnsafeGroupValuesRefused(t *testing.T) {
	tmpl, err := ParseTemplate("/run/{{vm.name}}.sock")
	require.NoError(t, err)
	for _, v := range []string{"../../etc/passwd", "web/1", "web 1", "a..b", "-rf", "", ".hidden", strings.Repeat("a", 65), "web\n1"} {
		ev := Event{Group: []Attribute{{"vm.name", v}}, Time: time.Now()}
		_, err := tmpl.Render(groupLookup(&ev, nil))
		var refusal *Refusal
		require.ErrorAs(t, err, &refusal, "%q", v)
		assert.Contains(t, refusal.Reason, "is not a safe value")
	}
	for _, v := range []string{"web-1", "vnet3", "4711", "a.b_c:d-e", strings.Repeat("a", 64)} {
		ev := Event{Group: []Attribute{{"vm.name", v}}}
		_, err := tmpl.Render(groupLookup(&ev, nil))
		assert.NoError(t, err, v)
	}
	_, err = tmpl.Render(groupLookup(&Event{}, nil))
	assert.EqualError(t, err, `refused: the group has no attribute "vm.name" for the template`)
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "/run/{{vm.name}}.sock", "{{a}}{{b}}", "{{", "}}", "{{ x }}", "a{b}c", "{{{x}}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		// The canonical form parses to itself.
		again, err := ParseTemplate(tmpl.String())
		if err != nil || again.String() != tmpl.String() {
			t.Fatalf("%q: canonical %q does not round-trip: %v", s, tmpl.String(), err)
		}
		// Literal text never holds braces that could open a variable.
		out, err := tmpl.Render(func(string) (string, error) { return "", nil })
		if err != nil || strings.Contains(out, "{{") || strings.Contains(out, "}}") {
			t.Fatalf("%q rendered %q, %v", s, out, err)
		}
	})
}
