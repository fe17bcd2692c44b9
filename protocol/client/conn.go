package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
)

// maxServerFrame bounds frames read from the server: far above anything the
// server legitimately sends (its largest, a decision, stays under 64 KiB),
// so a broken server cannot make the client allocate without bound.
const maxServerFrame = 1 << 20

// errStopping ends the reader when the client is closing.
var errStopping = errors.New("client: stopping")

// handshake dials, says hello (resuming token if not empty) and reads the
// welcome. A server error in place of welcome is returned as *protocol.Error.
func (c *Client) handshake(ctx context.Context, token string) (*websocket.Conn, *protocol.Welcome, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	defer cancel()
	h := c.opts.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if c.opts.APIKey != "" && !c.opts.KeyInHello {
		h.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	d := *c.opts.Dialer
	d.Subprotocols = []string{c.opts.Subprotocol}
	switch {
	case d.NetDialContext != nil:
		d.NetDialContext = corkDial(d.NetDialContext)
	case d.NetDial != nil:
		nd := d.NetDial
		d.NetDialContext = corkDial(func(_ context.Context, network, addr string) (net.Conn, error) { return nd(network, addr) })
	default:
		var nd net.Dialer
		d.NetDialContext = corkDial(nd.DialContext)
	}
	ws, resp, err := d.DialContext(ctx, c.url, h)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, nil, protocol.Errorf(protocol.CodeUnauthorized, "the server refused the API key (HTTP 401)")
		}
		return nil, nil, err
	}
	if got := ws.Subprotocol(); got != c.opts.Subprotocol &&
		!(got == "" && c.opts.Subprotocol == protocol.SubprotocolMsgpack) {
		ws.Close()
		return nil, nil, fmt.Errorf("asked for subprotocol %q, server chose %q", c.opts.Subprotocol, got)
	}
	// Websocket reads ignore ctx; closing the socket when ctx ends is what
	// unblocks them.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	ws.SetReadLimit(maxServerFrame)

	hello := &protocol.Hello{Versions: []int{protocol.Version}, Client: c.opts.Name, ResumeToken: token}
	if token != "" {
		hello.LastSeq = c.lastSeq.Load()
	}
	if c.opts.KeyInHello {
		hello.APIKey = c.opts.APIKey
	}
	frame, err := c.codec.Encode(protocol.NewEnvelope(c.newID(), "", hello))
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	deadline, _ := ctx.Deadline()
	ws.SetWriteDeadline(deadline)
	if err := ws.WriteMessage(c.codec.FrameType(), frame); err != nil {
		ws.Close()
		return nil, nil, fmt.Errorf("hello: %w", err)
	}
	for {
		ws.SetReadDeadline(deadline)
		mt, data, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return nil, nil, fmt.Errorf("waiting for welcome: %w", err)
		}
		c.received.Add(1)
		if mt != c.codec.FrameType() {
			c.badFrames.Add(1)
			continue
		}
		env, err := c.codec.Decode(data)
		if err != nil {
			c.badFrames.Add(1)
			c.log.Warn("bad frame from server", "err", err)
			continue
		}
		switch b := env.Body.(type) {
		case *protocol.Welcome:
			ws.SetReadDeadline(time.Time{})
			ws.SetWriteDeadline(time.Time{})
			return ws, b, nil
		case *protocol.Error:
			ws.Close()
			return nil, nil, b
		default:
			ws.Close()
			return nil, nil, fmt.Errorf("server sent %s before welcome", env.Type)
		}
	}
}

// run is the connection manager and, for each connection, its writer. It
// exits when Close is called or reconnection gives up, closing Events.
func (c *Client) run(ws *websocket.Conn) {
	defer close(c.done)
	defer close(c.events) // the reader, its only other sender, has exited
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// This goroutine exits when the client closes or run returns; it lets
	// Close interrupt a reconnection in progress.
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	var carry []byte // a frame whose write failed, sent first on the next connection
	for {
		var err error
		carry, err = c.serve(ws, carry)
		c.failPending()
		if c.stopping() {
			return
		}
		if websocket.IsCloseError(err, CloseSessionTakenOver) {
			// Reconnecting would take the session back from whoever
			// resumed it, and they would take it back again.
			c.err = fmt.Errorf("client: %w", ErrTakenOver)
			c.log.Warn("session taken over by another connection; stopping")
			return
		}
		if c.opts.NoReconnect {
			c.err = fmt.Errorf("client: %w (reconnection off)", ErrDisconnected)
			return
		}
		var w *protocol.Welcome
		ws, w, err = c.reconnect(ctx)
		if err != nil {
			if !c.stopping() {
				c.err = err
				c.log.Error("gave up reconnecting", "err", err)
			}
			return
		}
		c.reconnects.Add(1)
		env := protocol.NewEnvelope("", "", w)
		select {
		case c.events <- env:
		case <-c.closing:
			ws.Close()
			return
		}
	}
}

func (c *Client) stopping() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// reconnect dials again with backoff until it has a welcome, the client
// closes, the server refuses for good, or the reconnection window ends.
func (c *Client) reconnect(ctx context.Context) (*websocket.Conn, *protocol.Welcome, error) {
	prev := c.Welcome()
	window := c.opts.ReconnectFor
	if window <= 0 {
		window = time.Duration(prev.Limits.GraceMS) * time.Millisecond
	}
	if window <= 0 {
		window = 30 * time.Second
	}
	giveUp := time.Now().Add(window)
	backoff := c.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		ws, w, err := c.handshake(ctx, prev.ResumeToken)
		if err == nil {
			c.accept(w)
			c.log.Info("reconnected", "attempt", attempt, "resumed", w.Resumed,
				"replayed", w.Replayed, "missed", w.Missed, "resume_error", w.ResumeError)
			return ws, w, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ErrClosed
		}
		var perr *protocol.Error
		if errors.As(err, &perr) && (perr.Code == protocol.CodeUnauthorized || perr.Code == protocol.CodeUnsupportedVersion) {
			return nil, nil, fmt.Errorf("client: reconnect: %w", err)
		}
		if time.Now().After(giveUp) {
			return nil, nil, fmt.Errorf("client: reconnect: gave up after %v and %d attempts: %w", window, attempt, err)
		}
		c.log.Debug("reconnect failed", "attempt", attempt, "err", err)
		// Jitter spreads the reconnections of many clients after a restart.
		pause := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ErrClosed
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

// accept records a welcome from a (re)connection. A session that was not
// resumed is new, and its sequence numbers start again from 1.
func (c *Client) accept(w *protocol.Welcome) {
	if !w.Resumed {
		c.lastSeq.Store(0)
	}
	c.setWelcome(w)
}

// failPending fails every request still waiting for a reply: after a
// dropped connection nobody knows whether the request arrived. (A spawned
// that the server replays after the resume arrives on Events.)
func (c *Client) failPending() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ch := range c.pending {
		ch <- protocol.Envelope{} // buffered, and only ever sent one reply
		delete(c.pending, id)
	}
}

// maxBatchFrames bounds the frames the writer sends in one syscall, so a
// long queue still reaches the socket in steady pieces.
const maxBatchFrames = 64

// serve runs one connection: it starts the reader and writes queued frames
// until the connection fails or the client closes. It returns the frame
// whose write failed, if any, for the next connection, and the reader's
// error (a *websocket.CloseError when the server closed).
func (c *Client) serve(ws *websocket.Conn, carry []byte) ([]byte, error) {
	w := c.Welcome()
	timeout := c.opts.ReadTimeout
	if timeout <= 0 {
		timeout = 3 * time.Duration(w.Limits.PingIntervalMS) * time.Millisecond
	}
	readerDone := make(chan error, 1)
	// The reader exits when the socket fails or is closed below.
	go func() { readerDone <- c.read(ws, timeout) }()
	finish := func(err error) error {
		ws.Close()
		if err == nil {
			err = <-readerDone
		}
		if !errors.Is(err, errStopping) && !c.stopping() {
			c.log.Info("connection lost", "err", err)
		}
		return err
	}
	write := func(frame []byte) error {
		ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		return ws.WriteMessage(c.codec.FrameType(), frame)
	}
	cork := corkOf(ws.NetConn())
	if carry != nil {
		if err := write(carry); err != nil {
			return carry, finish(nil)
		}
	}
	for {
		select {
		case frame := <-c.out:
			// Frames queued behind this one go out with it, in one
			// syscall (cork.go). If the flush fails they are lost with
			// the connection, as frames in the socket's buffer would be.
			batch := min(len(c.out), maxBatchFrames)
			if batch > 0 && cork != nil {
				cork.cork()
			}
			if err := write(frame); err != nil {
				return frame, finish(nil)
			}
			for range batch {
				if frame = <-c.out; write(frame) != nil {
					return frame, finish(nil)
				}
			}
			if batch > 0 && cork != nil {
				if err := cork.flush(); err != nil {
					return nil, finish(nil)
				}
			}
		case err := <-readerDone:
			return nil, finish(err)
		case <-c.closing:
			// Flush what callers already queued, then close politely and
			// give the server a moment to answer the close.
		flush:
			for {
				select {
				case frame := <-c.out:
					if write(frame) != nil {
						break flush
					}
				default:
					break flush
				}
			}
			ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			t := time.NewTimer(time.Second)
			var err error
			select {
			case err = <-readerDone:
			case <-t.C:
			}
			t.Stop()
			return nil, finish(err)
		}
	}
}

// read reads frames until the socket fails or the client closes.
func (c *Client) read(ws *websocket.Conn, timeout time.Duration) error {
	extend := func() {
		if timeout > 0 {
			ws.SetReadDeadline(time.Now().Add(timeout))
		}
	}
	extend()
	ws.SetPingHandler(func(data string) error {
		extend()
		// A failed pong shows up as a failed read soon enough.
		ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.opts.WriteTimeout))
		return nil
	})
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		extend()
		c.received.Add(1)
		if mt != c.codec.FrameType() {
			c.badFrames.Add(1)
			continue
		}
		env, err := c.codec.Decode(data)
		if err != nil {
			c.badFrames.Add(1)
			c.log.Warn("bad frame from server", "err", err)
			continue
		}
		if !c.deliver(env) {
			return errStopping
		}
	}
}

// deliver drops replayed duplicates, hands replies to their waiting
// requests, and queues everything else on Events under the policy of the
// package comment. It returns false if the client is closing.
func (c *Client) deliver(env protocol.Envelope) bool {
	if env.Seq != 0 {
		if env.Seq <= c.lastSeq.Load() {
			c.duplicates.Add(1)
			return true
		}
		c.lastSeq.Store(env.Seq)
	}
	if env.ID != "" && (env.Type == "spawned" || env.Type == "pong" || env.Type == "error") {
		c.mu.Lock()
		ch, ok := c.pending[env.ID]
		delete(c.pending, env.ID)
		c.mu.Unlock()
		if ok {
			ch <- env // buffered; the entry is gone, so no second reply
			return true
		}
	}
	if droppable(env) {
		select {
		case c.events <- env:
		default:
			c.dropped.Add(1)
		}
		return true
	}
	select {
	case c.events <- env:
		return true
	case <-c.closing:
		return false
	}
}

// droppable mirrors the server's queue policy: non-final say deltas,
// decisions, tree paths and pongs may be lost, nothing else.
func droppable(env protocol.Envelope) bool {
	switch b := env.Body.(type) {
	case *protocol.Say:
		return !b.Final
	case *protocol.Decision, *protocol.TreePath, *protocol.Pong:
		return true
	}
	return false
}
