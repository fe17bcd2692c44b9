package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
)

func TestAuth(t *testing.T) {
	cfg := testConfig()
	cfg.APIKeys = []string{"k1", "k2"}
	ts := startServer(t, cfg, serverOpt{})
	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }

	t.Run("header key", func(t *testing.T) {
		c := dial(t, ts, protocol.SubprotocolMsgpack, bearer("k2"))
		if w := c.hello(nil); w.SessionID == "" {
			t.Errorf("welcome = %+v; want a session", w)
		}
	})
	t.Run("wrong header key is refused before the upgrade", func(t *testing.T) {
		_, resp, err := dialErr(ts, protocol.SubprotocolMsgpack, bearer("nope"), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("dial with a wrong key: err %v, response %v; want 401", err, resp)
		}
	})
	t.Run("hello key, after a refused hello", func(t *testing.T) {
		c := dial(t, ts, protocol.SubprotocolJSON, nil)
		for _, key := range []string{"", "wrong"} {
			c.send(protocol.NewEnvelope("h1", "", &protocol.Hello{Versions: []int{1}, APIKey: key}))
			if env := c.recv(); errorCode(env) != protocol.CodeUnauthorized || env.ID != "h1" {
				t.Fatalf("hello with key %q answered with %+v; want unauthorized h1", key, env)
			}
		}
		// Nothing but hello gets through meanwhile.
		c.send(protocol.NewEnvelope("p", "", &protocol.Ping{}))
		if env := c.recv(); errorCode(env) != protocol.CodeNotHello {
			t.Fatalf("ping before an accepted hello answered with %+v; want not_hello", env)
		}
		if w := c.hello(&protocol.Hello{APIKey: "k1"}); w.SessionID == "" {
			t.Errorf("welcome = %+v; want a session", w)
		}
	})
}

func TestNoKeysMeansLoopbackOnly(t *testing.T) {
	si := NewStandIn(StandInOptions{})
	defer si.Close()
	srv, err := New(Options{Config: testConfig(), Host: si, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":0") // every interface
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := srv.Serve(context.Background(), ln); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("Serve(%s) without keys = %v; want ErrNotLoopback", ln.Addr(), err)
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:7777": true, "[::1]:7777": true, "localhost:7777": true, "127.3.2.1:80": true,
		":7777": false, "0.0.0.0:7777": false, "192.168.1.5:7777": false, "[::]:7777": false, "example.com:7777": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v; want %v", addr, got, want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.RatePerSecond, cfg.RateBurst = 2, 3
	ts := startServer(t, cfg, serverOpt{clock: clock})
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	c.hello(nil) // takes one token
	for i, want := range []string{"pong", "pong", "error"} {
		c.send(protocol.NewEnvelope("p", "", &protocol.Ping{}))
		env := c.recv()
		if env.Type != want || (want == "error" && (errorCode(env) != protocol.CodeRateLimited || env.ID != "p")) {
			t.Fatalf("ping %d answered with %s %+v; want %s", i, env.Type, env.Body, want)
		}
	}
	clock.advance(500 * time.Millisecond) // one token at 2/s
	c.send(protocol.NewEnvelope("p", "", &protocol.Ping{}))
	if env := c.recv(); env.Type != "pong" {
		t.Errorf("ping after the refill answered with %s %+v; want pong", env.Type, env.Body)
	}
}

func TestNPCQuota(t *testing.T) {
	cfg := testConfig()
	cfg.MaxNPCs = 2
	ts := startServer(t, cfg, serverOpt{})
	c := dial(t, ts, protocol.SubprotocolJSON, nil)
	c.hello(nil)
	c.spawn("a")
	c.spawn("b")
	c.send(protocol.NewEnvelope("s3", "c", &protocol.Spawn{Persona: "smith"}))
	if env := c.recv(); errorCode(env) != protocol.CodeQuota || env.ID != "s3" || env.NPC != "c" {
		t.Fatalf("third spawn answered with %+v; want quota s3 c", env)
	}
	c.send(protocol.NewEnvelope("d", "a", &protocol.Despawn{}))
	c.spawn("c")
	if got := ts.counter(t, "anima_npcs"); got != 2 {
		t.Errorf("anima_npcs = %v; want 2", got)
	}
	if h := ts.srv.Health(); h.NPCs != 2 || h.Sessions != 1 || h.Connections != 1 {
		t.Errorf("Health() = %+v; want 2 NPCs, 1 session, 1 connection", h)
	}
}

// say collects one utterance's messages from a stand-in reply.
type reply struct {
	decision *protocol.Decision
	act      *protocol.Act
	deltas   []string
	final    *protocol.Say
	seqs     []uint64
}

// readReply reads until npc's final say, collecting the reply.
func readReply(c *wsClient, npc string) reply {
	c.t.Helper()
	var r reply
	for r.final == nil {
		env := c.recv()
		if env.NPC != npc {
			continue
		}
		r.seqs = append(r.seqs, env.Seq)
		switch b := env.Body.(type) {
		case *protocol.Decision:
			r.decision = b
		case *protocol.Act:
			r.act = b
		case *protocol.Say:
			if b.Final {
				r.final = b
			} else {
				r.deltas = append(r.deltas, b.Delta)
			}
		case *protocol.Error:
			c.t.Fatalf("error while reading a reply: %+v", b)
		}
	}
	return r
}

func TestStandInConversation(t *testing.T) {
	for _, sub := range codecs {
		t.Run(sub, func(t *testing.T) {
			ts := startServer(t, testConfig(), serverOpt{})
			si := ts.host.(*StandIn)
			c := dial(t, ts, sub, nil)
			w := c.hello(&protocol.Hello{Client: "test"})
			if w.Version != protocol.Version || w.Limits.MaxNPCs == 0 || w.Model.Backend != "standin" {
				t.Errorf("welcome = %+v; want version, limits and the stand-in model", w)
			}
			c.spawn("smith")
			c.send(protocol.NewEnvelope("q1", "smith", &protocol.PlayerSay{Speaker: "p1", Name: "Aren", Text: "Can you help me?"}))
			r := readReply(c, "smith")
			if r.decision == nil || r.decision.Action != "follow" || r.decision.Target != "p1" {
				t.Errorf("decision = %+v; want follow p1", r.decision)
			}
			if r.act == nil || r.act.Name != "follow" || r.act.Args["target"] != "p1" {
				t.Fatalf("act = %+v; want follow with target p1", r.act)
			}
			if len(r.deltas) < 2 || strings.Join(r.deltas, "") != r.final.Text {
				t.Errorf("deltas %q do not add up to the final text %q", r.deltas, r.final.Text)
			}
			for i := 1; i < len(r.seqs); i++ {
				if r.seqs[i] != r.seqs[i-1]+1 {
					t.Errorf("seqs %v are not consecutive", r.seqs)
				}
			}
			// The game reports the action; the stand-in records it.
			c.send(protocol.NewEnvelope("st", "smith", &protocol.ActionStatus{ActionID: r.act.ActionID, Status: protocol.StatusSuccess}))
			ref := NPCRef{Session: w.SessionID, NPC: "smith"}
			waitFor(t, "the action status", func() bool {
				st, _ := si.ActionStatusOf(ref, r.act.ActionID)
				return st == protocol.StatusSuccess
			})
		})
	}
}

// TestResumeReplaysMissedMessages drops a connection while the NPC answers,
// resumes with the last seq seen, and gets the rest in order.
func TestResumeReplaysMissedMessages(t *testing.T) {
	ts := startServer(t, testConfig(), serverOpt{})
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w := c.hello(nil)
	spawned := c.spawn("n1")
	c.send(protocol.NewEnvelope("q", "n1", &protocol.PlayerSay{Speaker: "p1", Text: "hello"}))
	c.ws.Close() // without reading the reply
	sess := ts.srv.sessionByToken(w.ResumeToken)
	waitFor(t, "the whole reply to be sent and the session detached", func() bool {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		msgs, _ := sess.replay.since(sess.replay.lastSeq() - 1)
		s, final := msgs[0].Body.(*protocol.Say)
		return sess.conn == nil && final && s.Final
	})

	c2 := dial(t, ts, protocol.SubprotocolJSON, nil) // a resume may switch encodings
	w2 := c2.hello(&protocol.Hello{ResumeToken: w.ResumeToken, LastSeq: spawned.Seq})
	if !w2.Resumed || w2.SessionID != w.SessionID || w2.Missed != 0 || w2.Replayed < 4 {
		t.Fatalf("resume welcome = %+v; want resumed %s, nothing missed, 4+ replayed", w2, w.SessionID)
	}
	r := readReply(c2, "n1")
	if r.decision == nil || r.act == nil || r.final == nil || r.seqs[0] != spawned.Seq+1 || uint64(len(r.seqs)) != w2.Replayed {
		t.Errorf("replay = %+v; want decision, act, say from seq %d, %d messages", r, spawned.Seq+1, w2.Replayed)
	}
	// The NPC is still there.
	c2.send(protocol.NewEnvelope("q", "n1", &protocol.PlayerSay{Speaker: "p1", Text: "bye"}))
	if r := readReply(c2, "n1"); r.final.Text != "Safe travels." {
		t.Errorf("after resume, final say = %q; want %q", r.final.Text, "Safe travels.")
	}
	if got := ts.counter(t, "anima_replayed_total"); got != float64(w2.Replayed) {
		t.Errorf("anima_replayed_total = %v; want %d", got, w2.Replayed)
	}
}

// TestResumeReportsMissed: when the replay buffer no longer reaches back to
// the client's last seq, welcome says how many messages are gone.
func TestResumeReportsMissed(t *testing.T) {
	cfg := testConfig()
	cfg.ReplaySize = 3
	ts := startServer(t, cfg, serverOpt{})
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w := c.hello(nil)
	spawned := c.spawn("n1") // seq 1
	c.ws.Close()
	sess := ts.srv.sessionByToken(w.ResumeToken)
	waitFor(t, "detach", func() bool { sess.mu.Lock(); defer sess.mu.Unlock(); return sess.conn == nil })
	for i := 0; i < 7; i++ { // seqs 2..8; the buffer keeps 6..8
		sess.Send("n1", "", &protocol.Act{ActionID: "a", Name: "idle"})
	}
	c2 := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w2 := c2.hello(&protocol.Hello{ResumeToken: w.ResumeToken, LastSeq: spawned.Seq})
	if w2.Missed != 4 || w2.Replayed != 3 {
		t.Fatalf("resume welcome = %+v; want missed 4 (seqs 2-5), replayed 3", w2)
	}
	for want := uint64(6); want <= 8; want++ {
		if env := c2.recv(); env.Seq != want || env.Type != "act" {
			t.Errorf("replayed %s seq %d; want act seq %d", env.Type, env.Seq, want)
		}
	}
}

// TestGraceExpiry: a detached session lives for the grace period, then its
// NPCs are despawned and its token no longer resumes.
func TestGraceExpiry(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Grace = Duration(30 * time.Second)
	ts := startServer(t, cfg, serverOpt{clock: clock})
	si := ts.host.(*StandIn)
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w := c.hello(nil)
	c.spawn("n1")
	ref := NPCRef{Session: w.SessionID, NPC: "n1"}
	c.ws.Close()
	waitFor(t, "the grace timer", func() bool { return clock.pending() == 1 })

	clock.advance(29 * time.Second)
	if !si.Spawned(ref) || ts.srv.SessionCount() != 1 {
		t.Fatalf("29s into a 30s grace: spawned %v, sessions %d; want the NPC and session kept", si.Spawned(ref), ts.srv.SessionCount())
	}
	// A resume within the grace period cancels the timer; a second drop
	// starts a fresh one.
	c2 := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	if w2 := c2.hello(&protocol.Hello{ResumeToken: w.ResumeToken, LastSeq: 1}); !w2.Resumed {
		t.Fatalf("resume within grace: %+v; want resumed", w2)
	}
	c2.ws.Close()
	waitFor(t, "the second grace timer", func() bool { return clock.pending() == 1 })
	clock.advance(29 * time.Second)
	if !si.Spawned(ref) {
		t.Fatal("the first grace timer ended the resumed session")
	}
	clock.advance(time.Second)
	if si.Spawned(ref) || ts.srv.SessionCount() != 0 {
		t.Fatalf("after the grace period: spawned %v, sessions %d; want both gone", si.Spawned(ref), ts.srv.SessionCount())
	}
	if got := ts.counter(t, "anima_sessions_expired_total"); got != 1 {
		t.Errorf("anima_sessions_expired_total = %v; want 1", got)
	}
	if got := ts.counter(t, "anima_npcs"); got != 0 {
		t.Errorf("anima_npcs = %v; want 0", got)
	}

	c3 := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w3 := c3.hello(&protocol.Hello{ResumeToken: w.ResumeToken, LastSeq: 1})
	if w3.Resumed || w3.ResumeError == "" || w3.SessionID == w.SessionID {
		t.Errorf("resume after expiry: %+v; want a new session and a resume_error", w3)
	}
	c3.send(protocol.NewEnvelope("p", "n1", &protocol.Perceive{}))
	if env := c3.recv(); errorCode(env) != protocol.CodeUnknownNPC {
		t.Errorf("perceive to the expired NPC answered with %+v; want unknown_npc", env)
	}
}

// TestResumeTakesOver: resuming while the old connection is still open
// moves the session and closes the old connection with 4001.
func TestResumeTakesOver(t *testing.T) {
	ts := startServer(t, testConfig(), serverOpt{})
	old := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w := old.hello(nil)
	old.spawn("n1")
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	if w2 := c.hello(&protocol.Hello{ResumeToken: w.ResumeToken, LastSeq: 1}); !w2.Resumed || w2.Replayed != 0 {
		t.Fatalf("takeover welcome = %+v; want resumed, nothing to replay", w2)
	}
	if code, _ := old.closeCode(); code != CloseSessionTakenOver {
		t.Errorf("old connection closed with %d; want %d", code, CloseSessionTakenOver)
	}
	c.send(protocol.NewEnvelope("q", "n1", &protocol.PlayerSay{Speaker: "p", Text: "hi"}))
	readReply(c, "n1")
	// The old connection's end must not detach the session from the new one.
	sess := ts.srv.sessionByToken(w.ResumeToken)
	sess.mu.Lock()
	attached := sess.conn != nil
	sess.mu.Unlock()
	if !attached {
		t.Error("the session lost its new connection when the old one closed")
	}
}

// TestGracefulShutdown: queued messages are flushed, then every connection
// gets 1001, and Serve returns.
func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t, testConfig(), serverOpt{})
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	w := c.hello(nil)
	c.spawn("n1")
	sess := ts.srv.sessionByToken(w.ResumeToken)
	for i := 0; i < 50; i++ {
		sess.Send("n1", "", &protocol.Act{ActionID: "a", Name: "idle"})
	}
	ts.cancel()
	for i := 0; i < 50; i++ {
		if env := c.recv(); env.Type != "act" {
			t.Fatalf("message %d during shutdown: %s; want act", i, env.Type)
		}
	}
	if code, _ := c.closeCode(); code != websocket.CloseGoingAway {
		t.Errorf("close on shutdown: %d; want %d", code, websocket.CloseGoingAway)
	}
	select {
	case err := <-ts.done:
		ts.done <- err // for the cleanup
		if err != nil {
			t.Errorf("Serve after shutdown = %v; want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if si := ts.host.(*StandIn); si.Spawned(NPCRef{Session: w.SessionID, NPC: "n1"}) {
		t.Error("NPC still spawned after shutdown")
	}
	if _, _, err := dialErr(ts, "", nil, nil); err == nil {
		t.Error("dial after shutdown succeeded")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	ts := startServer(t, testConfig(), serverOpt{})
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	c.hello(nil)
	c.spawn("n1")
	resp, err := http.Get("http://" + ts.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h Health
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || h.Status != "ok" || h.Sessions != 1 || h.NPCs != 1 || h.Connections != 1 {
		t.Errorf("/healthz = %d %+v, %v; want 200 ok with 1 session, 1 NPC, 1 connection", resp.StatusCode, h, err)
	}
	// The writer counts a message after writing it, so the client may have
	// it a moment before the counter moves.
	waitFor(t, "spawned to be counted", func() bool {
		return ts.counter(t, "anima_messages_out_total", "type", "spawned") == 1
	})
	resp, err = http.Get("http://" + ts.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"anima_connections 1", "anima_sessions 1", "anima_npcs 1",
		`anima_messages_in_total{type="spawn"} 1`, `anima_messages_out_total{type="spawned"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestConfig(t *testing.T) {
	cfg, err := Config{}.Validate()
	if err != nil || !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Errorf("Config{}.Validate() = %+v, %v; want the defaults", cfg, err)
	}
	bad := []Config{
		{PingInterval: Duration(time.Minute), ReadTimeout: Duration(time.Second)},
		{MaxMessageBytes: 100, MaxFrameBytes: 50},
		{MaxNPCs: -1},
		{APIKeys: []string{" "}},
	}
	for _, c := range bad {
		if _, err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", c)
		}
	}
	if got := KeysFromEnv(" a, b,,c "); strings.Join(got, "|") != "a|b|c" {
		t.Errorf("KeysFromEnv(%q) = %q; want [a b c]", " a, b,,c ", got)
	}
}

// TestKeepalive: a client that answers the server's pings stays connected
// past the read timeout; one that reads nothing (so answers no ping) is
// dropped after it.
func TestKeepalive(t *testing.T) {
	cfg := testConfig()
	// Pings ten times per read timeout: a client would have to stall for
	// most of a second to miss one in time.
	cfg.ReadTimeout = Duration(time.Second)
	cfg.PingInterval = Duration(100 * time.Millisecond)
	ts := startServer(t, cfg, serverOpt{})
	live := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	live.hello(nil)
	silent := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	silent.hello(nil)

	// live's reader answers pings (gorilla does so inside ReadMessage).
	msgs := make(chan protocol.Envelope, 16)
	// Exits when live's connection closes, at the end of the test.
	go func() {
		defer close(msgs)
		for {
			live.ws.SetReadDeadline(time.Now().Add(time.Minute))
			_, data, err := live.ws.ReadMessage()
			if err != nil {
				return
			}
			if env, err := live.codec.Decode(data); err == nil {
				msgs <- env
			}
		}
	}()
	waitFor(t, "the silent client to be dropped", func() bool { return ts.counter(t, "anima_connections") == 1 })
	// By now live has been quiet (apart from pongs) for longer than the
	// read timeout; it must still work.
	time.Sleep(time.Duration(cfg.ReadTimeout)) // at least one more read timeout
	live.send(protocol.NewEnvelope("p", "", &protocol.Ping{}))
	select {
	case env, ok := <-msgs:
		if !ok || env.Type != "pong" {
			t.Errorf("live client after the read timeout: %+v, open %v; want pong", env, ok)
		}
	case <-time.After(5 * time.Second):
		t.Error("no pong for the live client")
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"api_keys": ["k1"], "grace": "90s", "max_npcs": 12, "rate_per_second": 50}`)
	cfg, err := LoadConfig(good)
	if err != nil {
		t.Fatalf("LoadConfig(%s) = %v", good, err)
	}
	if cfg.Grace != Duration(90*time.Second) || cfg.MaxNPCs != 12 || cfg.RatePerSecond != 50 || len(cfg.APIKeys) != 1 {
		t.Errorf("LoadConfig(%s) = %+v; want grace 90s, 12 NPCs, 50/s, one key", good, cfg)
	}
	for name, text := range map[string]string{
		"typo.json":     `{"max_npc": 12}`,
		"duration.json": `{"grace": 90}`,
		"broken.json":   `{"grace": "90s"`,
	} {
		if _, err := LoadConfig(write(name, text)); err == nil {
			t.Errorf("LoadConfig(%s) = nil; want an error", text)
		}
	}
	if _, err := LoadConfig(dir + "/missing.json"); err == nil {
		t.Error("LoadConfig(missing) = nil; want an error")
	}
}
