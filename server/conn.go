package server

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
)

// conn is one websocket connection: a reader (the HTTP handler's goroutine)
// and a writer goroutine that owns the socket's writes and the outbound
// queue.
type conn struct {
	srv   *Server
	ws    *websocket.Conn
	codec protocol.Codec
	log   *slog.Logger // immutable; for any goroutine
	q     *outQueue[protocol.Envelope]
	batch *batchConn // the socket, if Serve's listener wrapped it; nil otherwise

	// Owned by the reader goroutine.
	rlog   *slog.Logger // log, with the session id once there is one
	authed bool         // an API key was accepted (header or hello)
	sess   *session     // set by hello
	bucket *tokenBucket
	errs   *errorWindow

	drain       chan struct{} // closed by closeAfterFlush: flush, then close
	drainOnce   sync.Once
	drainCode   int           // close code for the drain; written before drain is closed
	drainReason string        // likewise
	readerDone  chan struct{} // closed when the reader has stopped
	done        chan struct{} // closed by kill: the writer stops at once
	killOnce    sync.Once
	writerDone  chan struct{} // closed when the writer goroutine has exited
}

// droppable is the queue policy's test: what may be dropped for a slow
// client (see the package comment).
func droppable(env protocol.Envelope) bool {
	switch b := env.Body.(type) {
	case *protocol.Say:
		return !b.Final
	case *protocol.Decision, *protocol.TreePath, *protocol.Pong:
		return true
	}
	return false
}

// clientFault reports whether an error code is the client's doing and so
// counts toward abuse; overload and internal failures are the server's.
func clientFault(c protocol.Code) bool {
	return c != protocol.CodeOverloaded && c != protocol.CodeInternal
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	authed := false
	if key, ok := bearerToken(r); ok && !s.keys.open() {
		if !s.keys.valid(key) {
			s.m.errors.WithLabelValues(string(protocol.CodeUnauthorized)).Inc()
			s.log.Warn("refused upgrade: wrong API key", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized: wrong API key", http.StatusUnauthorized)
			return
		}
		authed = true
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has already answered with an HTTP error.
		s.log.Debug("upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	codec, err := protocol.NewCodec(ws.Subprotocol(), protocol.FromClient, int(s.cfg.MaxMessageBytes))
	if err != nil { // cannot happen: the upgrader only picks offered subprotocols
		ws.Close()
		s.log.Error("no codec", "subprotocol", ws.Subprotocol(), "err", err)
		return
	}
	now := s.clock.Now()
	c := &conn{
		srv:        s,
		ws:         ws,
		codec:      codec,
		log:        s.log.With("remote", r.RemoteAddr, "subprotocol", codec.Subprotocol()),
		q:          newOutQueue(s.cfg.QueueSize, droppable),
		authed:     authed,
		bucket:     newTokenBucket(s.cfg.RatePerSecond, s.cfg.RateBurst, now),
		errs:       newErrorWindow(s.cfg.AbuseErrors, time.Duration(s.cfg.AbuseWindow)),
		drain:      make(chan struct{}),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.rlog = c.log
	c.batch, _ = ws.UnderlyingConn().(*batchConn)
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		c.kill(websocket.CloseGoingAway, "server shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.handlers.Add(1)
	s.m.connections.Set(float64(len(s.conns)))
	s.mu.Unlock()
	defer s.handlers.Done()

	c.log.Debug("connected")
	// The writer exits when kill closes done, or after draining.
	go c.writeLoop()
	c.readLoop()
	close(c.readerDone)

	select {
	case <-c.drain:
		// The writer is flushing and closing; its writes have deadlines.
	default:
		c.kill(websocket.CloseNormalClosure, "")
	}
	<-c.writerDone
	c.kill(websocket.CloseNormalClosure, "")
	c.q.close()
	if c.sess != nil {
		c.sess.detach(c, time.Duration(s.cfg.Grace))
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.m.connections.Set(float64(len(s.conns)))
	s.mu.Unlock()
}

// readLoop reads and handles frames until the connection fails or is closed.
func (c *conn) readLoop() {
	cfg := c.srv.cfg
	c.ws.SetReadLimit(cfg.MaxFrameBytes)
	extend := func() error {
		return c.ws.SetReadDeadline(time.Now().Add(time.Duration(cfg.ReadTimeout)))
	}
	extend()
	c.ws.SetPongHandler(func(string) error { return extend() })
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readFailed(err)
			return
		}
		extend()
		if !c.handle(mt, data) {
			return
		}
	}
}

// readFailed logs and counts why reading stopped.
func (c *conn) readFailed(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// The library has already sent 1009.
		c.srv.m.closed.WithLabelValues("frame_too_large").Inc()
		c.rlog.Warn("closed: frame over the read limit", "limit", c.srv.cfg.MaxFrameBytes)
	case errors.As(err, &ce):
		c.rlog.Debug("client closed", "code", ce.Code, "reason", ce.Text)
	default:
		c.rlog.Debug("read failed", "err", err)
	}
}

// handle processes one frame; it returns false when the connection must
// stop reading (it has been closed for abuse).
func (c *conn) handle(mt int, data []byte) bool {
	if mt != c.codec.FrameType() {
		return c.fail("", "", protocol.Errorf(protocol.CodeBadFrame,
			"%s frame on an %s connection", frameName(mt), c.codec.Subprotocol()))
	}
	env, err := c.codec.Decode(data)
	if err != nil {
		return c.fail(env.ID, env.NPC, err)
	}
	c.srv.m.msgsIn.WithLabelValues(env.Type).Inc()
	if !c.bucket.allow(c.srv.clock.Now()) {
		return c.fail(env.ID, env.NPC, protocol.Errorf(protocol.CodeRateLimited,
			"more than %v messages per second (burst %d); message dropped", c.srv.cfg.RatePerSecond, c.srv.cfg.RateBurst))
	}
	if h, ok := env.Body.(*protocol.Hello); ok {
		return c.hello(env.ID, h)
	}
	if c.sess == nil {
		return c.fail(env.ID, env.NPC, protocol.Errorf(protocol.CodeNotHello, "%s before hello", env.Type))
	}
	if err := c.route(&env); err != nil {
		return c.fail(env.ID, env.NPC, err)
	}
	return true
}

func frameName(mt int) string {
	switch mt {
	case websocket.TextMessage:
		return "text"
	case websocket.BinaryMessage:
		return "binary"
	}
	return "unknown"
}

// hello opens or resumes the connection's session.
func (c *conn) hello(id string, h *protocol.Hello) bool {
	s := c.srv
	if c.sess != nil {
		return c.fail(id, "", &protocol.Error{Code: protocol.CodeBadField, Field: "type",
			Message: "hello already received on this connection"})
	}
	v, err := protocol.Negotiate(h.Versions)
	if err != nil {
		return c.fail(id, "", err)
	}
	if !s.keys.open() && !c.authed {
		if h.APIKey == "" {
			return c.fail(id, "", protocol.Errorf(protocol.CodeUnauthorized,
				"an API key is required: Authorization: Bearer KEY on the upgrade, or hello.api_key"))
		}
		if !s.keys.valid(h.APIKey) {
			return c.fail(id, "", protocol.Errorf(protocol.CodeUnauthorized, "wrong API key"))
		}
		c.authed = true
	}
	welcome := func(sess *session) *protocol.Welcome {
		return &protocol.Welcome{SessionID: sess.id, ResumeToken: sess.token, Version: v,
			Server: Name, Limits: s.limits(), Model: s.model}
	}
	var resumeErr string
	if h.ResumeToken != "" {
		if sess := s.sessionByToken(h.ResumeToken); sess != nil {
			if old, ok := sess.attach(c, welcome(sess), id, true, h.LastSeq); ok {
				c.sess = sess
				c.rlog = c.log.With("session", sess.id)
				c.rlog.Info("session resumed", "client", h.Client, "last_seq", h.LastSeq)
				if old != nil {
					// The old connection may still be blocked writing; its
					// close must not hold up this reader. Exits after kill.
					go old.kill(CloseSessionTakenOver, "session resumed on another connection")
				}
				return true
			}
		}
		resumeErr = "unknown or expired resume token; this is a new session with no NPCs"
	}
	sess := s.newSession(c)
	if sess == nil {
		return c.fail(id, "", protocol.Errorf(protocol.CodeOverloaded, "the server holds its maximum of %d sessions", s.cfg.MaxSessions))
	}
	w := welcome(sess)
	w.ResumeError = resumeErr
	sess.attach(c, w, id, false, 0)
	c.sess = sess
	c.rlog = c.log.With("session", sess.id)
	c.rlog.Info("session opened", "client", h.Client, "version", v)
	return true
}

// route hands an NPC message to the host after the session's checks.
func (c *conn) route(env *protocol.Envelope) error {
	s, sess := c.srv, c.sess
	ref := NPCRef{Session: sess.id, NPC: env.NPC}
	switch b := env.Body.(type) {
	case *protocol.Ping:
		c.send(protocol.NewEnvelope(env.ID, "", &protocol.Pong{TimeMS: b.TimeMS}))
		return nil
	case *protocol.World:
		return s.host.World(sess.id, b)
	case *protocol.Spawn:
		if err := sess.reserve(env.NPC, s.cfg.MaxNPCs); err != nil {
			return err
		}
		spawned, err := s.host.Spawn(ref, b, sess)
		if err != nil {
			sess.remove(env.NPC)
			return err
		}
		s.addNPCs(1)
		sess.Send(env.NPC, env.ID, spawned)
		return nil
	case *protocol.Despawn:
		if !sess.remove(env.NPC) {
			return unknownNPC(env.NPC)
		}
		s.host.Despawn(ref)
		s.addNPCs(-1)
		return nil
	}
	if !sess.has(env.NPC) {
		return unknownNPC(env.NPC)
	}
	switch b := env.Body.(type) {
	case *protocol.Perceive:
		return s.host.Perceive(ref, b)
	case *protocol.PlayerSay:
		return s.host.PlayerSay(ref, env.ID, b)
	case *protocol.Interrupt:
		return s.host.Interrupt(ref, b)
	case *protocol.ActionStatus:
		return s.host.ActionStatus(ref, b)
	}
	// The codec refuses server-side types, so this is a message type that
	// protocol gained and the server has not learned.
	return protocol.Errorf(protocol.CodeUnknownType, "the server does not handle %q", env.Type)
}

func unknownNPC(npc string) error {
	return protocol.Errorf(protocol.CodeUnknownNPC, "npc %q is not spawned in this session", npc)
}

// fail sends err to the client as an error message and counts it; it
// returns false if the errors have become abuse and the connection is closed.
func (c *conn) fail(id, npc string, err error) bool {
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		c.rlog.Error("internal error", "err", err)
		perr = protocol.Errorf(protocol.CodeInternal, "internal error")
	}
	body := *perr
	if len(body.Message) > protocol.MaxTextBytes {
		body.Message = body.Message[:protocol.MaxTextBytes-3] + "..."
	}
	if len(id) > protocol.MaxIDBytes {
		id = ""
	}
	if len(npc) > protocol.MaxIDBytes {
		npc = ""
	}
	c.srv.m.errors.WithLabelValues(string(body.Code)).Inc()
	c.rlog.Debug("error to client", "code", body.Code, "msg", body.Message, "id", id, "npc", npc)
	c.send(protocol.NewEnvelope(id, npc, &body))
	if clientFault(body.Code) && c.errs.add(c.srv.clock.Now()) {
		c.srv.m.closed.WithLabelValues("abuse").Inc()
		c.rlog.Warn("closed: too many errors", "errors", c.srv.cfg.AbuseErrors, "window", time.Duration(c.srv.cfg.AbuseWindow))
		// The client gets its errors, the last included, before the close.
		c.closeAfterFlush(websocket.ClosePolicyViolation, "too many errors")
		return false
	}
	return true
}

// send queues env under the queue policy; it never blocks.
func (c *conn) send(env protocol.Envelope) {
	res := c.q.push(env)
	for _, d := range res.dropped {
		c.srv.m.queueDrops.WithLabelValues(d.Type).Inc()
	}
	if !res.queued && len(res.dropped) == 0 && !res.closed {
		// Refuse everything from now on: this connection is done, and the
		// session's replay buffer holds what it would have carried.
		c.q.close()
		c.srv.m.closed.WithLabelValues("queue_full").Inc()
		c.log.Warn("closed: outbound queue full of undroppable messages", "queue", c.srv.cfg.QueueSize)
		// send may run under the session's lock; kill may wait for a
		// stuck write, so it runs on its own. Exits after kill.
		go c.kill(websocket.CloseTryAgainLater, "outbound queue full")
	}
}

// sendAll queues envs past the limit (welcome and replay).
func (c *conn) sendAll(envs []protocol.Envelope) {
	c.q.pushAll(envs...)
}

// writeLoop writes queued messages and pings until kill, or until a drain
// has flushed the queue and closed with 1001.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	cfg := c.srv.cfg
	ping := time.NewTicker(time.Duration(cfg.PingInterval))
	defer ping.Stop()
	var batch []protocol.Envelope
	var frames []frame
	flush := func() bool {
		batch = c.q.take(batch)
		frames = c.encode(batch, frames[:0])
		clear(batch) // let the bodies go
		if c.batch != nil && len(frames) > 1 {
			c.batch.cork()
		}
		for i, f := range frames {
			if c.batch != nil && len(frames) > 1 && i == len(frames)-1 {
				c.batch.arm()
			}
			if err := c.write(f); err != nil {
				c.log.Debug("write failed", "err", err)
				c.kill(websocket.CloseAbnormalClosure, "")
				return false
			}
		}
		clear(frames)
		return true
	}
	for {
		select {
		case <-c.done:
			return
		case <-c.q.ready:
			if !flush() {
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Duration(cfg.WriteTimeout))); err != nil {
				c.kill(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.drain:
			c.q.close()
			if !flush() {
				return
			}
			c.ws.SetWriteDeadline(time.Now().Add(time.Duration(cfg.WriteTimeout)))
			c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(c.drainCode, c.drainReason))
			// Give the client a moment to answer the close, which ends the
			// reader; then close regardless.
			t := time.NewTimer(2 * time.Second)
			select {
			case <-c.readerDone:
			case <-c.done:
			case <-t.C:
			}
			t.Stop()
			c.kill(websocket.CloseAbnormalClosure, "") // the close frame is sent
			return
		}
	}
}

// frame is an encoded message.
type frame struct {
	typ  string // message type, for metrics
	data []byte
}

// encode appends the frames of envs to frames. A server-built message that
// does not encode is a bug; it is logged and skipped rather than killing
// the connection.
func (c *conn) encode(envs []protocol.Envelope, frames []frame) []frame {
	for _, env := range envs {
		data, err := c.codec.Encode(env)
		if err != nil {
			c.log.Error("encode failed", "type", env.Type, "err", err)
			continue
		}
		frames = append(frames, frame{env.Type, data})
	}
	return frames
}

// write writes one frame.
func (c *conn) write(f frame) error {
	c.ws.SetWriteDeadline(time.Now().Add(time.Duration(c.srv.cfg.WriteTimeout)))
	if err := c.ws.WriteMessage(c.codec.FrameType(), f.data); err != nil {
		return err
	}
	c.srv.m.msgsOut.WithLabelValues(f.typ).Inc()
	return nil
}

// closeAfterFlush asks the writer to flush the queue, then close with code
// and reason. Later pushes are refused. The first call wins.
func (c *conn) closeAfterFlush(code int, reason string) {
	c.drainOnce.Do(func() {
		c.drainCode, c.drainReason = code, reason
		close(c.drain)
	})
}

// kill closes the connection now: a close frame with code and reason (best
// effort, bounded by a short deadline), then the socket. The first call
// wins; safe from any goroutine.
func (c *conn) kill(code int, reason string) {
	c.killOnce.Do(func() {
		if code != websocket.CloseAbnormalClosure {
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			if c.batch != nil {
				c.batch.flushNow()
			}
		}
		close(c.done)
		c.ws.Close()
	})
}
