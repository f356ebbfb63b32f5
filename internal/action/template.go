package action

import (
	"fmt"
	"regexp"
	"strings"
)

// Template is a string with {{name}} placeholders, e.g.
// /run/libvirt/qemu/domain-{{vm.name}}/monitor.sock. Names are letters,
// digits, and _ . - after the first; spaces inside the braces are
// allowed. There is no escape: a literal "{{" is refused.
type Template struct {
	parts []templatePart
}

type templatePart struct {
	text     string
	variable bool
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// ParseTemplate parses s.
func ParseTemplate(s string) (Template, error) {
	var t Template
	rest := s
	for rest != "" {
		lit, after, isVar := strings.Cut(rest, "{{")
		if strings.Contains(lit, "}}") {
			return Template{}, fmt.Errorf("template %q: \"}}\" without \"{{\"", s)
		}
		if lit != "" {
			t.parts = append(t.parts, templatePart{text: lit})
		}
		if !isVar {
			break
		}
		name, after, closed := strings.Cut(after, "}}")
		if !closed {
			return Template{}, fmt.Errorf("template %q: \"{{\" without \"}}\"", s)
		}
		if name = strings.TrimSpace(name); !varName.MatchString(name) {
			return Template{}, fmt.Errorf("template %q: %q is not a variable name", s, name)
		}
		t.parts = append(t.parts, templatePart{text: name, variable: true})
		rest = after
	}
	return t, nil
}

// String writes the template back in canonical form.
func (t Template) String() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.variable {
			b.WriteString("{{" + p.text + "}}")
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// Render substitutes every variable with what lookup returns.
func (t Template) Render(lookup func(name string) (string, error)) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if !p.variable {
			b.WriteString(p.text)
			continue
		}
		v, err := lookup(p.text)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// safeValue is what a group value must look like to be put into a path
// or an argument: an interface or VM name, a number.
var safeValue = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// CheckSafe refuses a value that could escape a path or an argument: it
// must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$ (no "/", no space, no
// leading "-") and must not contain "..".
func CheckSafe(name, value string) error {
	if !safeValue.MatchString(value) || strings.Contains(value, "..") {
		return Refuse("%s %q is not a safe value (letters, digits, then _ . : -, at most 64, no \"..\")", name, value)
	}
	return nil
}

// groupLookup resolves template variables from the event's group; every
// value must pass CheckSafe. extra supplies the non-group variables.
func groupLookup(ev *Event, extra map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		if v, ok := extra[name]; ok {
			return v, nil
		}
		for _, a := range ev.Group {
			if a.Key == name {
				if err := CheckSafe(name, a.Value); err != nil {
					return "", err
				}
				return a.Value, nil
			}
		}
		return "", Refuse("the group has no attribute %q for the template", name)
	}
}
