package server

import (
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// gatedListener hands out connections whose writes can be held, to make a
// client that stops reading without depending on kernel buffer sizes.
type gatedListener struct {
	net.Listener
	accepted chan *gatedConn
}

func (l gatedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	g := &gatedConn{Conn: c, open: make(chan struct{}), closed: make(chan struct{})}
	close(g.open) // open until hold
	l.accepted <- g
	return g, nil
}

// gatedConn is a server-side connection whose Write blocks while held,
// until released or closed: a client that reads nothing.
type gatedConn struct {
	net.Conn
	mu        sync.Mutex    // guards open, deadline
	open      chan struct{} // closed while writes may proceed
	deadline  time.Time     // the write deadline
	closed    chan struct{}
	closeOnce sync.Once
}

func (g *gatedConn) hold() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedConn) release() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

// Write waits while held, honouring the write deadline as a socket would.
func (g *gatedConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	open, deadline := g.open, g.deadline
	g.mu.Unlock()
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-open:
		return g.Conn.Write(p)
	case <-g.closed:
		return 0, net.ErrClosed
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	}
}

func (g *gatedConn) SetWriteDeadline(t time.Time) error {
	g.mu.Lock()
	g.deadline = t
	g.mu.Unlock()
	return g.Conn.SetWriteDeadline(t)
}

func (g *gatedConn) SetDeadline(t time.Time) error {
	g.mu.Lock()
	g.deadline = t
	g.mu.Unlock()
	return g.Conn.SetDeadline(t)
}

func (g *gatedConn) Close() error {
	g.closeOnce.Do(func() { close(g.closed) })
	return g.Conn.Close()
}

// slowServer starts a server with a 16-message queue and one client whose
// server-side writes are held: the writer blocks on its first write.
func slowServer(t *testing.T) (*testServer, *wsClient, *session, *gatedConn) {
	cfg := testConfig()
	cfg.QueueSize = 16
	cfg.ReplaySize = 8192
	accepted := make(chan *gatedConn, 16)
	ts := startServer(t, cfg, serverOpt{ln: func(l net.Listener) net.Listener { return gatedListener{l, accepted} }})
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	gate := <-accepted
	w := c.hello(nil)
	c.spawn("n1")
	gate.hold()
	return ts, c, ts.srv.sessionByToken(w.ResumeToken), gate
}

// flood sends n say deltas of 1000 bytes; with the writer held, all but
// the queue's and the writer's batch are dropped.
func flood(sess *session, n int) {
	delta := strings.Repeat("x", 1000)
	for i := 0; i < n; i++ {
		sess.Send("n1", "", &protocol.Say{UtteranceID: "u1", Delta: delta})
	}
}

// TestSlowClientDropsDeltasKeepsFinals: a client that does not read loses
// say deltas, never the final say or an act, and others are not slowed.
func TestSlowClientDropsDeltasKeepsFinals(t *testing.T) {
	ts, c, sess, gate := slowServer(t)
	// A second, fast client on the same server.
	fast := dial(t, ts, protocol.SubprotocolJSON, nil)
	fast.hello(nil)

	flood(sess, 3000)
	drops := ts.counter(t, "anima_queue_drops_total", "type", "say")
	if drops == 0 {
		t.Fatal("no deltas dropped for a client that reads nothing")
	}
	sess.Send("n1", "", &protocol.Say{UtteranceID: "u1", Final: true, Text: "whole"})
	for _, id := range []string{"a1", "a2", "a3"} {
		sess.Send("n1", "", &protocol.Act{ActionID: id, Name: "idle"})
	}
	// The fast client is served while the slow one is stuck.
	fast.send(protocol.NewEnvelope("p", "", &protocol.Ping{}))
	if env := fast.recv(); env.Type != "pong" {
		t.Errorf("fast client got %s; want pong", env.Type)
	}
	gate.release()

	var deltas int
	var finals []string
	var last uint64
	for len(finals) < 4 {
		env := c.recv()
		if env.Seq <= last {
			t.Fatalf("seq %d after %d: out of order", env.Seq, last)
		}
		last = env.Seq
		switch b := env.Body.(type) {
		case *protocol.Say:
			if b.Final {
				finals = append(finals, "say:"+b.Text)
			} else {
				deltas++
			}
		case *protocol.Act:
			finals = append(finals, "act:"+b.ActionID)
		}
	}
	if got := strings.Join(finals, " "); got != "say:whole act:a1 act:a2 act:a3" {
		t.Errorf("undroppable messages = %s; want the final say and acts a1-a3 in order", got)
	}
	if deltas+int(ts.counter(t, "anima_queue_drops_total", "type", "say")) != 3000 {
		t.Errorf("%d deltas delivered + %v dropped; want 3000", deltas, ts.counter(t, "anima_queue_drops_total", "type", "say"))
	}
}

// TestSlowClientOverflowClosesAndReplays: when the queue is full of
// messages that may not be dropped, the connection is closed; the client
// resumes and gets every one of them by replay.
func TestSlowClientOverflowClosesAndReplays(t *testing.T) {
	ts, c, sess, _ := slowServer(t)
	flood(sess, 3000)
	for i := 0; i < 40; i++ {
		sess.Send("n1", "", &protocol.Act{ActionID: "a", Name: "idle"})
	}
	waitFor(t, "the overflow close", func() bool {
		return ts.counter(t, "anima_connections_closed_total", "reason", "queue_full") == 1
	})
	var last uint64
	for {
		env, err := c.recvErr()
		if err != nil {
			break
		}
		last = env.Seq
	}
	c2 := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w := c2.hello(&protocol.Hello{ResumeToken: sess.token, LastSeq: last})
	if !w.Resumed || w.Missed != 0 {
		t.Fatalf("resume after overflow = %+v; want resumed, nothing missed", w)
	}
	acts := 0
	for i := uint64(0); i < w.Replayed; i++ {
		if env := c2.recv(); env.Type == "act" {
			acts++
		}
	}
	if acts != 40 {
		t.Errorf("replay after overflow had %d acts; want 40", acts)
	}
}
