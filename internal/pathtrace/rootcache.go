package pathtrace

import "go.opentelemetry.io/collector/pdata/pcommon"

// rootCache remembers the trace ids whose root span was emitted, least
// recently used out first. Nodes live in one slice and link by index, so
// the steady state allocates nothing.
type rootCache struct {
	index      map[pcommon.TraceID]int32
	nodes      []rootNode
	head, tail int32 // most and least recently used; none when empty
}

type rootNode struct {
	id         pcommon.TraceID
	prev, next int32
}

const none = -1

func newRootCache(size int) *rootCache {
	return &rootCache{
		index: make(map[pcommon.TraceID]int32, size),
		nodes: make([]rootNode, 0, size),
		head:  none,
		tail:  none,
	}
}

// touch reports whether id is remembered, and makes it the most recent.
func (c *rootCache) touch(id pcommon.TraceID) bool {
	i, ok := c.index[id]
	if ok {
		c.unlink(i)
		c.pushFront(i)
	}
	return ok
}

// add remembers id, which must not be remembered yet, forgetting the least
// recent id when full.
func (c *rootCache) add(id pcommon.TraceID) {
	var i int32
	if len(c.nodes) < cap(c.nodes) {
		i = int32(len(c.nodes))
		c.nodes = append(c.nodes, rootNode{})
	} else {
		i = c.tail
		c.unlink(i)
		delete(c.index, c.nodes[i].id)
	}
	c.nodes[i].id = id
	c.index[id] = i
	c.pushFront(i)
}

func (c *rootCache) unlink(i int32) {
	n := &c.nodes[i]
	if n.prev != none {
		c.nodes[n.prev].next = n.next
	} else {
		c.head = n.next
	}
	if n.next != none {
		c.nodes[n.next].prev = n.prev
	} else {
		c.tail = n.prev
	}
}

func (c *rootCache) pushFront(i int32) {
	c.nodes[i].prev, c.nodes[i].next = none, c.head
	if c.head != none {
		c.nodes[c.head].prev = i
	}
	c.head = i
	if c.tail == none {
		c.tail = i
	}
}
