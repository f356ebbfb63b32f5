package guestagent

import "testing"

func TestParseRequest(t *testing.T) {
	for line, want := range map[string]string{
		"INFO\n":                    "INFO",
		"  SOURCE 17179869184 7 \n": "SOURCE 17179869184 7",
		"SPAN h:1 n x\r\n":          "SPAN h:1 n x",
		"":                          "empty command",
		"INFO x\n":                  `bad command "INFO x"`,
		"SPAN a b\n":                `bad command "SPAN a b"`,
		"info\n":                    `bad command "info"`,
		"SOURCE 17179869185 7\n":    "SOURCE 17179869185 7: want a count in 0..17179869184 and a seed",
		"SOURCE -1 7\n":             "SOURCE -1 7: want a count in 0..17179869184 and a seed",
		"SOURCE 1 -7\n":             "SOURCE 1 -7: want a count in 0..17179869184 and a seed",
	} {
		r, err := parseRequest(line)
		got := r.String()
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("parseRequest(%q) = %q, want %q", line, got, want)
		}
	}
}

// FuzzParseRequest: whatever the server accepts, the client writes back as
// a line the server reads as the same request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"INFO", "SINK\n", "SOURCE 10 3", "SPAN 10.0.0.1:4317 s n", "POWEROFF", "SOURCE 1 x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseRequest(line)
		if err != nil {
			return
		}
		again, err := parseRequest(r.String())
		if err != nil || again != r {
			t.Fatalf("%q parsed as %+v, which reads back as %+v, %v", line, r, again, err)
		}
	})
}
