package pathtrace

// maxCachedStrings bounds each string cache; a full cache starts over,
// which costs re-rendering, never memory.
const maxCachedStrings = 4096

// strCache keeps the attribute strings a record would otherwise render per
// span (addresses, thread names, drop reasons): the same few recur.
type strCache[K comparable] struct {
	m      map[K]string
	render func(K) string
}

func newStrCache[K comparable](render func(K) string) strCache[K] {
	return strCache[K]{m: map[K]string{}, render: render}
}

func (c *strCache[K]) get(k K) string {
	if s, ok := c.m[k]; ok {
		return s
	}
	if len(c.m) >= maxCachedStrings {
		clear(c.m)
	}
	s := c.render(k)
	c.m[k] = s
	return s
}
