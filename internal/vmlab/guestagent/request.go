package guestagent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// request is one command line of the protocol, as the client writes it and
// the server reads it.
type request struct {
	cmd  string    // INFO, SINK, SOURCE, SPAN or POWEROFF
	n    int64     // SOURCE's count
	seed uint64    // SOURCE's seed
	span [3]string // SPAN's endpoint, span name and nonce
}

// arity is each command's number of arguments.
var arity = map[string]int{"INFO": 0, "SINK": 0, "SOURCE": 2, "SPAN": 3, "POWEROFF": 0}

func parseRequest(line string) (request, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return request{}, errors.New("empty command")
	}
	if want, ok := arity[f[0]]; !ok || len(f)-1 != want {
		return request{}, fmt.Errorf("bad command %q", strings.TrimSpace(line))
	}
	r := request{cmd: f[0]}
	switch r.cmd {
	case "SOURCE":
		n, err1 := strconv.ParseInt(f[1], 10, 64)
		seed, err2 := strconv.ParseUint(f[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil || n < 0 || n > maxSource {
			return request{}, fmt.Errorf("SOURCE %s %s: want a count in 0..%d and a seed", f[1], f[2], int64(maxSource))
		}
		r.n, r.seed = n, seed
	case "SPAN":
		copy(r.span[:], f[1:])
	}
	return r, nil
}

// String is the request's command line, without its newline.
func (r request) String() string {
	switch r.cmd {
	case "SOURCE":
		return fmt.Sprintf("SOURCE %d %d", r.n, r.seed)
	case "SPAN":
		return "SPAN " + strings.Join(r.span[:], " ")
	}
	return r.cmd
}
