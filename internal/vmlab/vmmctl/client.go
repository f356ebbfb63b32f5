package vmmctl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// callTimeout bounds one request: the VMM answers from its control goroutine,
// so only a hung VMM gets near it.
const callTimeout = 10 * time.Second

// Client talks to one VMM's control socket. It is safe for concurrent use.
type Client struct {
	path string
	mu   sync.Mutex
	conn net.Conn
	rd   *bufio.Reader
}

// Dial connects to the control socket at path.
func Dial(path string) (*Client, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("dial vmm control %s: %w", path, err)
	}
	return &Client{path: path, conn: conn, rd: bufio.NewReaderSize(conn, 4096)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Pause stops moving frames in dir; it returns once the worker holds no frame
// of that direction, so frames sent afterwards stay in the tap ring.
func (c *Client) Pause(dir Direction) error {
	_, err := c.Do(Request{Op: OpPause, Dir: dir})
	return err
}

// Resume moves frames in dir again.
func (c *Client) Resume(dir Direction) error {
	_, err := c.Do(Request{Op: OpResume, Dir: dir})
	return err
}

// SetDelay makes the worker wait d per frame (0 turns it off).
func (c *Client) SetDelay(d time.Duration) error {
	_, err := c.Do(Request{Op: OpDelay, Delay: d.String()})
	return err
}

// DropEveryNth drops every nth frame the worker reads in dir (0 turns it off).
func (c *Client) DropEveryNth(dir Direction, n uint64) error {
	_, err := c.Do(Request{Op: OpDropEvery, Dir: dir, N: n})
	return err
}

// TapFilter attaches (FilterDropAll) or detaches (FilterNone) the host tap's
// eBPF filter.
func (c *Client) TapFilter(mode FilterMode) error {
	_, err := c.Do(Request{Op: OpTapFilter, Filter: mode})
	return err
}

// Stats reads the VMM's counters.
func (c *Client) Stats() (Stats, error) {
	resp, err := c.Do(Request{Op: OpStats})
	if err != nil {
		return Stats{}, err
	}
	if resp.Stats == nil {
		return Stats{}, errors.New("vmm stats: response without stats")
	}
	return *resp.Stats, nil
}

// Do sends one request and waits for its response.
func (c *Client) Do(req Request) (Response, error) {
	line, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("encode %s request: %w", req.Op, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.conn.SetDeadline(time.Now().Add(callTimeout)); err != nil {
		return Response{}, fmt.Errorf("vmm %s: %w", req.Op, err)
	}
	if _, err := c.conn.Write(append(line, '\n')); err != nil {
		return Response{}, fmt.Errorf("vmm %s: send: %w", req.Op, err)
	}
	reply, err := c.rd.ReadBytes('\n')
	if err != nil {
		return Response{}, fmt.Errorf("vmm %s: read reply: %w", req.Op, err)
	}
	var resp Response
	if err := json.Unmarshal(reply, &resp); err != nil {
		return Response{}, fmt.Errorf("vmm %s: decode reply: %w", req.Op, err)
	}
	if !resp.OK {
		return resp, fmt.Errorf("vmm %s: %s", req.Op, resp.Error)
	}
	return resp, nil
}
