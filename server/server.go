// Package server is Anima's websocket endpoint: it speaks protocol v1
// (PROTOCOL.md, package protocol) at /v1/ws, holds sessions that survive a
// dropped connection, enforces auth and limits, routes NPC messages to an
// NPCHost, and serves /healthz and Prometheus /metrics.
//
// # Connections
//
// Each connection has one reader goroutine (the HTTP handler's) and one
// writer goroutine. The reader decodes, checks limits and routes; it never
// writes to the socket. Everything outbound goes through the writer's
// bounded queue (Config.QueueSize), so a client that reads slowly never slows
// the reader, the NPC host or any other client. Under Serve, the writer
// sends all it finds queued in one write syscall (batch.go).
//
// # Outbound queue policy
//
// Pushing never blocks. When a connection's queue is full:
//   - droppable messages are dropped and counted in
//     anima_queue_drops_total{type}: non-final say deltas, decision,
//     tree_path and pong.
//     (A final say carries the whole utterance, so dropped deltas lose no
//     text; sequence numbers of dropped messages show as gaps.)
//   - any other message (final say, act, cancel, spawned, error, welcome)
//     first evicts the oldest droppable message in the queue; if there is
//     none, the connection is closed with 1013 "outbound queue full". The
//     session stays for its grace period: the client resumes and gets every
//     sequenced message it missed by replay.
//
// # Bad input
//
// Every bad frame (malformed msgpack or JSON, unknown type, wrong field
// types, a message over Config.MaxMessageBytes, an unknown NPC, a spawn of an
// existing NPC, anything before hello, a wrong version, a wrong API key, a
// message over the rate limit or the NPC quota) gets an error message with a
// code and the request id when it could be read, and the connection and the
// session's NPCs go on. Only sustained abuse, Config.AbuseErrors such errors
// within Config.AbuseWindow, closes the connection, with 1008 "too many
// errors". Frames over Config.MaxFrameBytes (the websocket read limit, far
// above the message limit) are not read at all: they close the connection
// with 1009, as the websocket library must.
//
// # Sessions
//
// hello opens a session (a uuid, and an unguessable resume token). Sequenced
// messages (protocol.Sequenced: spawned, act, cancel, say, decision) are
// numbered per session and kept in a replay buffer of Config.ReplaySize. When
// the connection drops, the session keeps its NPCs for Config.Grace; a hello
// with its resume token and the last seq seen gets a welcome (resumed, with
// the replayed count, and missed if the buffer no longer reaches back that
// far), then the replay in order, then live traffic. A resume while the old
// connection still looks alive takes the session over and closes the old one
// with 4001. When the grace period ends the session's NPCs are despawned and
// its token stops working (a resume then gets a new session, with
// welcome.resume_error saying why).
//
// # Auth
//
// With API keys configured, a client presents one in an "Authorization:
// Bearer KEY" header (a wrong one is refused with HTTP 401 before the
// upgrade) or in hello's api_key. With none configured, Serve refuses any
// listener that is not loopback.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/anima-rt/anima/protocol"
)

// Name is the server software name sent in welcome.
const Name = "anima"

// Close codes the server uses beyond RFC 6455's.
const (
	// CloseSessionTakenOver: a resume on another connection took the
	// session.
	CloseSessionTakenOver = 4001
)

// ErrNotLoopback is returned by Serve when no API key is configured and the
// listener is reachable from other machines.
var ErrNotLoopback = errors.New("server: no API keys configured: refusing to listen on a non-loopback address")

// Options are a Server's dependencies.
type Options struct {
	Config Config
	// Host runs the NPCs. Required.
	Host NPCHost
	// Registry receives the server's metrics and is what /metrics serves;
	// nil means a fresh registry of the server's own.
	Registry *prometheus.Registry
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// Clock drives deadlines, rate limits and grace periods; nil means the
	// wall clock.
	Clock Clock
	// Model describes the model, for welcome.
	Model protocol.Model
}

// Server is Anima's websocket server. Create it with New, serve it with Serve
// (or mount Handler), stop it with Shutdown.
type Server struct {
	cfg      Config
	host     NPCHost
	log      *slog.Logger
	clock    Clock
	reg      *prometheus.Registry
	m        *metrics
	keys     *keyring
	model    protocol.Model
	upgrader websocket.Upgrader
	started  time.Time

	mu       sync.Mutex          // guards sessions, byToken, conns, draining, npcCount
	sessions map[string]*session // by session id
	byToken  map[string]*session // by resume token
	conns    map[*conn]struct{}
	draining bool
	npcCount int

	handlers sync.WaitGroup // one per connection handler still running

	batchBufs sync.Pool // of *[]byte: write batches of every connection
}

// New checks the config and builds a server; it starts nothing.
func New(opt Options) (*Server, error) {
	cfg, err := opt.Config.Validate()
	if err != nil {
		return nil, err
	}
	if opt.Host == nil {
		return nil, errors.New("server: new: Options.Host is required")
	}
	s := &Server{
		cfg:      cfg,
		host:     opt.Host,
		log:      opt.Logger,
		clock:    opt.Clock,
		reg:      opt.Registry,
		keys:     newKeyring(cfg.APIKeys),
		model:    opt.Model,
		sessions: make(map[string]*session),
		byToken:  make(map[string]*session),
		conns:    make(map[*conn]struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.m, err = newMetrics(s.reg); err != nil {
		return nil, fmt.Errorf("server: new: metrics: %w", err)
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		Subprotocols:     protocol.Subprotocols(),
		// Game servers are not browsers; a browser client presents an API
		// key, which a cross-site page cannot read.
		CheckOrigin: func(*http.Request) bool { return true },
		// Write buffers come from a pool for each message and go back
		// after, so an idle connection holds none.
		WriteBufferPool: &sync.Pool{},
	}
	s.batchBufs.New = func() any { b := make([]byte, 0, 16<<10); return &b }
	s.started = s.clock.Now()
	return s, nil
}

// Handler serves /v1/ws, /healthz and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/ws", s.serveWS)
	mux.HandleFunc("/healthz", s.serveHealth)
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	return mux
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully
// (see Shutdown) and returns. Without API keys it refuses a listener that is
// not on loopback.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.keys.open() {
		if !IsLoopback(ln.Addr().String()) {
			return fmt.Errorf("%w (%s)", ErrNotLoopback, ln.Addr())
		}
		s.log.Warn("no API keys configured: running unauthenticated, on loopback only", "addr", ln.Addr().String())
	}
	// Batching frames into one write per writer pass needs the raw socket.
	ln = batchListener{Listener: ln, bufs: &s.batchBufs}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	// This goroutine exits when hs.Shutdown closes the listener.
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "ws", "/v1/ws")
	select {
	case err := <-errc:
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.ShutdownTimeout))
	defer cancel()
	// Stop accepting first; websocket connections are hijacked, so
	// hs.Shutdown does not wait for them: s.Shutdown drains them.
	herr := hs.Shutdown(sctx)
	if err := s.Shutdown(sctx); err != nil {
		return err
	}
	if herr != nil {
		return fmt.Errorf("server: shutdown http: %w", herr)
	}
	return nil
}

// Shutdown drains the server: new connections are refused with 503, every
// connection's writer flushes its queue and closes with 1001 (going away),
// and once the connections are gone every session is ended and its NPCs
// despawned. If ctx ends first, the remaining connections are closed at once
// and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.log.Info("draining", "connections", len(conns))
	for _, c := range conns {
		c.closeAfterFlush(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	// This goroutine exits when the last handler returns (forced below if
	// ctx ends first).
	go func() { s.handlers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("server: shutdown: %w", ctx.Err())
		s.mu.Lock()
		for c := range s.conns {
			c.kill(websocket.CloseGoingAway, "server shutting down")
		}
		s.mu.Unlock()
		<-done
	}
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		s.endSession(sess, "shutdown")
	}
	s.log.Info("stopped")
	return err
}

// Health is the /healthz document.
type Health struct {
	Status      string  `json:"status"` // ok or draining
	Sessions    int     `json:"sessions"`
	Connections int     `json:"connections"`
	NPCs        int     `json:"npcs"`
	UptimeS     float64 `json:"uptime_s"`
	Version     int     `json:"protocol_version"`
}

// Health returns the server's current health.
func (s *Server) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Health{Status: "ok", Sessions: len(s.sessions), Connections: len(s.conns), NPCs: s.npcCount,
		UptimeS: s.clock.Now().Sub(s.started).Seconds(), Version: protocol.Version}
	if s.draining {
		h.Status = "draining"
	}
	return h
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	h := s.Health()
	w.Header().Set("Content-Type", "application/json")
	if h.Status != "ok" {
		// Load balancers stop routing here while the server drains.
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

// newToken returns an unguessable resume token: 32 random bytes, base64url.
func newToken() string {
	var b [32]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newSession registers a new session for c, or returns nil if the server is
// at MaxSessions or draining.
func (s *Server) newSession(c *conn) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining || len(s.sessions) >= s.cfg.MaxSessions {
		return nil
	}
	sess := &session{
		id:     uuid.NewString(),
		token:  newToken(),
		srv:    s,
		npcs:   make(map[string]struct{}),
		replay: newReplayBuffer[protocol.Envelope](s.cfg.ReplaySize),
	}
	s.sessions[sess.id] = sess
	s.byToken[sess.token] = sess
	s.m.sessions.Set(float64(len(s.sessions)))
	return sess
}

// sessionByToken returns the live session with the resume token, if any.
func (s *Server) sessionByToken(token string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byToken[token]
}

// endSession ends sess (grace expired, or shutdown): its NPCs are despawned
// and its token forgotten. Safe to call more than once.
func (s *Server) endSession(sess *session, why string) {
	npcs, ok := sess.end()
	if !ok {
		return
	}
	for _, id := range npcs {
		s.host.Despawn(NPCRef{Session: sess.id, NPC: id})
	}
	s.mu.Lock()
	delete(s.sessions, sess.id)
	delete(s.byToken, sess.token)
	s.npcCount -= len(npcs)
	s.m.sessions.Set(float64(len(s.sessions)))
	s.m.npcs.Set(float64(s.npcCount))
	s.mu.Unlock()
	if why == "expired" {
		s.m.expired.Inc()
	}
	s.log.Info("session ended", "session", sess.id, "why", why, "npcs", len(npcs))
}

// addNPCs changes the server-wide NPC count by d.
func (s *Server) addNPCs(d int) {
	s.mu.Lock()
	s.npcCount += d
	s.m.npcs.Set(float64(s.npcCount))
	s.mu.Unlock()
}

// SessionCount is the number of live sessions (attached or in grace).
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// limits returns the limits welcome announces.
func (s *Server) limits() protocol.Limits {
	c := s.cfg
	return protocol.Limits{
		MaxFrameBytes:     int(c.MaxMessageBytes),
		MaxNPCs:           c.MaxNPCs,
		MessagesPerSecond: c.RatePerSecond,
		Burst:             c.RateBurst,
		GraceMS:           time.Duration(c.Grace).Milliseconds(),
		ReplayBuffer:      c.ReplaySize,
		OutboundQueue:     c.QueueSize,
		PingIntervalMS:    time.Duration(c.PingInterval).Milliseconds(),
		ReadTimeoutMS:     time.Duration(c.ReadTimeout).Milliseconds(),
	}
}
