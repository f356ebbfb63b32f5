package kbtf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParsePrintSymbolic extracts the value names of one field from a tracepoint
// format file's `__print_symbolic(REC->field, { 2, "NAME" }, ...)` list.
func ParsePrintSymbolic(format, field string) (Names, error) {
	marker := "__print_symbolic(REC->" + field + ","
	i := strings.Index(format, marker)
	if i < 0 {
		return nil, fmt.Errorf("no __print_symbolic for field %q", field)
	}
	rest := format[i+len(marker):]
	names := Names{}
	for {
		rest = strings.TrimLeft(rest, " \t\n,")
		if rest == "" || rest[0] == ')' {
			break
		}
		if rest[0] != '{' {
			return nil, fmt.Errorf("expected '{' at %q", clip(rest))
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, errors.New("unterminated symbol entry")
		}
		val, name, err := parseEntry(rest[1:end])
		if err != nil {
			return nil, err
		}
		if _, dup := names[val]; !dup {
			names[val] = name
		}
		rest = rest[end+1:]
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("empty __print_symbolic for field %q", field)
	}
	return names, nil
}

// parseEntry parses ` 2, "NOT_SPECIFIED" `.
func parseEntry(s string) (uint64, string, error) {
	num, quoted, ok := strings.Cut(s, ",")
	if !ok {
		return 0, "", fmt.Errorf("entry %q: missing ','", clip(s))
	}
	val, err := strconv.ParseUint(strings.TrimSpace(num), 0, 64)
	if err != nil {
		return 0, "", fmt.Errorf("entry %q: value: %w", clip(s), err)
	}
	name, err := strconv.Unquote(strings.TrimSpace(quoted))
	if err != nil || name == "" {
		return 0, "", fmt.Errorf("entry %q: name is not a quoted string", clip(s))
	}
	return val, name, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
