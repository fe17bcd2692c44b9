package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/anima-rt/anima/protocol"
)

// testServer is a real server on a loopback port.
type testServer struct {
	srv   *Server
	host  NPCHost
	reg   *prometheus.Registry
	clock *fakeClock // nil when the server runs on the wall clock
	addr  string     // host:port
	url   string     // ws://host:port/v1/ws

	cancel context.CancelFunc
	done   chan error // Serve's result
}

// testConfig is a config for tests: generous limits unless a test lowers
// them, long timeouts so nothing expires by accident.
func testConfig() Config {
	return Config{
		Grace:           Duration(time.Minute),
		MaxMessageBytes: 8 << 10,
		MaxFrameBytes:   64 << 10,
		RatePerSecond:   1e6,
		RateBurst:       1e6,
		AbuseErrors:     1000,
		AbuseWindow:     Duration(time.Minute),
	}
}

type serverOpt struct {
	host  NPCHost    // default: a stand-in with no delay
	clock *fakeClock // default: wall clock
	ln    func(net.Listener) net.Listener
}

// startServer runs a server until the test ends.
func startServer(t testing.TB, cfg Config, opt serverOpt) *testServer {
	t.Helper()
	if opt.host == nil {
		si := NewStandIn(StandInOptions{})
		t.Cleanup(si.Close)
		opt.host = si
	}
	ts := &testServer{host: opt.host, reg: prometheus.NewRegistry(), clock: opt.clock}
	o := Options{Config: cfg, Host: opt.host, Registry: ts.reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Model:  protocol.Model{Name: "stand-in", Backend: "standin"}}
	if opt.clock != nil {
		o.Clock = opt.clock
	}
	var err error
	if ts.srv, err = New(o); err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.url = "ws://" + ts.addr + "/v1/ws"
	if opt.ln != nil {
		ln = opt.ln(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	ts.done = make(chan error, 1)
	// Exits when the test's cleanup (or the test) cancels ctx.
	go func() { ts.done <- ts.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ts.done:
		case <-time.After(15 * time.Second):
			t.Errorf("server did not shut down")
		}
	})
	return ts
}

// counter reads a counter or gauge of the server's registry; labels are
// name=value pairs.
func (ts *testServer) counter(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// wsClient is a raw websocket client that speaks through protocol's codecs.
type wsClient struct {
	t     testing.TB
	ws    *websocket.Conn
	codec protocol.Codec // decodes what the server sends
	sub   string
}

// dial connects with the given subprotocol ("" offers none) and header.
func dial(t testing.TB, ts *testServer, sub string, header http.Header) *wsClient {
	t.Helper()
	c, resp, err := dialErr(ts, sub, header, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", sub, err, resp)
	}
	c.t = t
	t.Cleanup(func() { c.ws.Close() })
	return c
}

func dialErr(ts *testServer, sub string, header http.Header, d *websocket.Dialer) (*wsClient, *http.Response, error) {
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	}
	if sub != "" {
		d.Subprotocols = []string{sub}
	}
	ws, resp, err := d.Dial(ts.url, header)
	if err != nil {
		return nil, resp, err
	}
	codec, err := protocol.NewCodec(ws.Subprotocol(), protocol.FromServer, 1<<20)
	if err != nil {
		ws.Close()
		return nil, resp, err
	}
	return &wsClient{ws: ws, codec: codec, sub: ws.Subprotocol()}, resp, nil
}

// send encodes env with the connection's codec.
func (c *wsClient) send(env protocol.Envelope) {
	c.t.Helper()
	data, err := c.codec.Encode(env)
	if err != nil {
		c.t.Fatalf("encode %s: %v", env.Type, err)
	}
	c.sendRaw(c.codec.FrameType(), data)
}

// sendMap encodes a hand-built envelope (possibly malformed on purpose) in
// the connection's format.
func (c *wsClient) sendMap(m map[string]any) {
	c.t.Helper()
	var data []byte
	var err error
	if c.codec.FrameType() == protocol.TextFrame {
		data, err = json.Marshal(m)
	} else {
		data, err = msgpack.Marshal(m)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(c.codec.FrameType(), data)
}

func (c *wsClient) sendRaw(mt int, data []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(mt, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// recv reads one message; it fails the test on a read error.
func (c *wsClient) recv() protocol.Envelope {
	c.t.Helper()
	env, err := c.recvErr()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return env
}

func (c *wsClient) recvErr() (protocol.Envelope, error) {
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, data, err := c.ws.ReadMessage()
	if err != nil {
		return protocol.Envelope{}, err
	}
	if mt != c.codec.FrameType() {
		return protocol.Envelope{}, errors.New("frame of the wrong type")
	}
	return c.codec.Decode(data)
}

// recvType reads until a message of type typ arrives, skipping others.
func (c *wsClient) recvType(typ string) protocol.Envelope {
	c.t.Helper()
	for {
		env := c.recv()
		if env.Type == typ {
			return env
		}
	}
}

// closeCode reads until the connection closes and returns the close code
// (websocket.CloseAbnormalClosure if no close frame came).
func (c *wsClient) closeCode() (int, string) {
	c.t.Helper()
	for {
		c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection did not close: %v", err)
		}
		return websocket.CloseAbnormalClosure, err.Error()
	}
}

// hello opens a session and returns the welcome.
func (c *wsClient) hello(h *protocol.Hello) *protocol.Welcome {
	c.t.Helper()
	if h == nil {
		h = &protocol.Hello{}
	}
	if h.Versions == nil {
		h.Versions = []int{protocol.Version}
	}
	c.send(protocol.NewEnvelope("h", "", h))
	env := c.recv()
	w, ok := env.Body.(*protocol.Welcome)
	if !ok {
		c.t.Fatalf("hello answered with %s %+v; want welcome", env.Type, env.Body)
	}
	return w
}

// spawn spawns npc and waits for spawned.
func (c *wsClient) spawn(npc string) protocol.Envelope {
	c.t.Helper()
	c.send(protocol.NewEnvelope("s-"+npc, npc, &protocol.Spawn{Persona: "smith"}))
	env := c.recv()
	if env.Type != "spawned" || env.NPC != npc {
		c.t.Fatalf("spawn %s answered with %s %+v; want spawned", npc, env.Type, env.Body)
	}
	return env
}

// errorCode returns env's error code, or "" if env is not an error.
func errorCode(env protocol.Envelope) protocol.Code {
	if e, ok := env.Body.(*protocol.Error); ok {
		return e.Code
	}
	return ""
}

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu     sync.Mutex // guards now, timers
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool // guarded by c.mu
	fired   bool // guarded by c.mu
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}

// pending counts timers neither fired nor stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			n++
		}
	}
	return n
}

// advance moves time on by d and runs the timers that fall due, in order,
// on the calling goroutine.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired && !t.at.After(c.now) {
			t.fired = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// codecs are the subprotocols every wire test runs over.
var codecs = []string{protocol.SubprotocolMsgpack, protocol.SubprotocolJSON}

// short trims a string for failure messages.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return strings.TrimSpace(s)
}
