package client

import (
	"context"
	"net"
	"sync"
)

// corkConn lets the writer send a run of queued frames in one write
// syscall instead of one each. A game server streaming perceptions for 20
// NPCs a tick sends them back to back, and the syscall is most of a small
// frame's cost: anima load's profile at 2,000 NPCs had ~10% of the process
// in the client's socket writes. The writer corks before writing the frames
// already queued and flushes after the last; writes while uncorked go
// straight to the socket. The mutex is held through the flush's network
// write, so a pong written meanwhile by the reader goroutine waits behind
// the batch rather than landing inside one of its frames.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

// maxCorkBytes caps a batch: a write that would pass it flushes first.
const maxCorkBytes = 256 << 10

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if len(c.buf)+len(p) > maxCorkBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// cork buffers writes until flush.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// flush writes what was buffered and uncorks.
func (c *corkConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxCorkBytes {
		c.buf = nil // one huge frame should not pin its buffer
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// corkDial wraps dial so that every connection it makes is a corkConn.
func corkDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &corkConn{Conn: conn}, nil
	}
}

// corkOf finds the corkConn under ws's connection (under TLS too), or nil.
func corkOf(nc net.Conn) *corkConn {
	for range 4 {
		switch c := nc.(type) {
		case *corkConn:
			return c
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}
