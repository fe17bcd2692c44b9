package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
	"github.com/anima-rt/anima/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testServer is a real Anima server with the stand-in NPC host, on a
// loopback port.
type testServer struct {
	url     string
	srv     *server.Server
	standIn *server.StandIn
}

func startServer(t *testing.T, cfg server.Config, delay time.Duration) *testServer {
	t.Helper()
	standIn := server.NewStandIn(server.StandInOptions{DeltaDelay: delay})
	srv, err := server.New(server.Options{Config: cfg, Host: standIn, Logger: quiet,
		Model: protocol.Model{Name: "stand-in", Backend: "standin"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	// Serve returns once cancel has drained the server.
	go func() {
		defer close(served)
		srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
		standIn.Close()
	})
	return &testServer{url: "ws://" + ln.Addr().String() + "/v1/ws", srv: srv, standIn: standIn}
}

// killableDialer records the TCP connections it makes, so a test can cut
// them as a network failure would, and can refuse new ones while blocked.
type killableDialer struct {
	mu      sync.Mutex // guards conns, blocked
	conns   []net.Conn
	blocked bool
}

func (k *killableDialer) dialer() *websocket.Dialer {
	return &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		k.mu.Lock()
		blocked := k.blocked
		k.mu.Unlock()
		if blocked {
			return nil, errors.New("test: network down")
		}
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			k.mu.Lock()
			k.conns = append(k.conns, c)
			k.mu.Unlock()
		}
		return c, err
	}}
}

// cut closes every connection made so far and blocks new ones if block.
func (k *killableDialer) cut(block bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.conns {
		c.Close()
	}
	k.conns = nil
	k.blocked = block
}

func (k *killableDialer) unblock() {
	k.mu.Lock()
	k.blocked = false
	k.mu.Unlock()
}

func dial(t *testing.T, url string, opts client.Options) *client.Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next event, failing the test if none comes in time.
func next(t *testing.T, c *client.Client) protocol.Envelope {
	t.Helper()
	select {
	case env, ok := <-c.Events():
		if !ok {
			t.Fatalf("Events closed: %v", c.Err())
		}
		return env
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return protocol.Envelope{}
}

// until collects events up to and including the first for which stop is
// true.
func until(t *testing.T, c *client.Client, stop func(protocol.Envelope) bool) []protocol.Envelope {
	t.Helper()
	var got []protocol.Envelope
	for {
		env := next(t, c)
		got = append(got, env)
		if stop(env) {
			return got
		}
	}
}

func finalSay(env protocol.Envelope) bool {
	s, ok := env.Body.(*protocol.Say)
	return ok && s.Final
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestLifecycle walks a session through hello, spawn, perceive, player_say,
// the streamed answer and action_status, in both subprotocols.
func TestLifecycle(t *testing.T) {
	ts := startServer(t, server.Config{}, 0)
	for _, sub := range []string{protocol.SubprotocolMsgpack, protocol.SubprotocolJSON} {
		t.Run(sub, func(t *testing.T) {
			ctx := ctxT(t)
			c := dial(t, ts.url, client.Options{Subprotocol: sub, Name: "lifecycle-test"})
			if w := c.Welcome(); w.Version != 1 || w.SessionID == "" || w.ResumeToken == "" || w.Resumed {
				t.Fatalf("Welcome() = %+v; want version 1, ids, not resumed", w)
			}
			if err := c.World(ctx, &protocol.World{WorldID: "oakvale", Lore: "A river town."}); err != nil {
				t.Fatal(err)
			}
			sp, err := c.Spawn(ctx, "brannoc", &protocol.Spawn{Persona: "blacksmith", Tree: "villager"})
			if err != nil {
				t.Fatalf("Spawn = %v", err)
			}
			if sp.Persona != "blacksmith" {
				t.Errorf("Spawn().Persona = %q; want blacksmith", sp.Persona)
			}
			if err := c.Perceive(ctx, "brannoc", &protocol.Perceive{
				Entities: []protocol.Entity{{ID: "p1", Kind: "player", Name: "Aren"}},
			}); err != nil {
				t.Fatal(err)
			}
			if err := c.PlayerSay(ctx, "brannoc", &protocol.PlayerSay{Speaker: "p1", Name: "Aren", Text: "Can you help me?"}); err != nil {
				t.Fatal(err)
			}
			events := until(t, c, finalSay)
			var act *protocol.Act
			var deltas string
			var lastSeq uint64
			for _, env := range events {
				if env.NPC != "brannoc" {
					t.Errorf("event %s for npc %q; want brannoc", env.Type, env.NPC)
				}
				if env.Seq <= lastSeq {
					t.Errorf("event %s seq %d after %d; want increasing", env.Type, env.Seq, lastSeq)
				}
				lastSeq = env.Seq
				switch b := env.Body.(type) {
				case *protocol.Act:
					act = b
				case *protocol.Say:
					deltas += b.Delta
				}
			}
			final := events[len(events)-1].Body.(*protocol.Say)
			const want = "Lead the way. I'll be right behind you."
			if final.Text != want || deltas != want {
				t.Errorf("say = deltas %q, final text %q; want %q", deltas, final.Text, want)
			}
			if act == nil || act.Name != "follow" {
				t.Fatalf("act = %+v; want follow", act)
			}
			if err := c.ActionStatus(ctx, "brannoc", &protocol.ActionStatus{ActionID: act.ActionID, Status: protocol.StatusSuccess}); err != nil {
				t.Fatal(err)
			}
			// A ping travels behind the action_status, so once it is back the
			// status has been handled.
			if _, err := c.Ping(ctx); err != nil {
				t.Fatalf("Ping = %v", err)
			}
			ref := server.NPCRef{Session: c.Welcome().SessionID, NPC: "brannoc"}
			if st, _ := ts.standIn.ActionStatusOf(ref, act.ActionID); st != protocol.StatusSuccess {
				t.Errorf("server saw action %s as %q; want success", act.ActionID, st)
			}
			if err := c.Despawn(ctx, "brannoc", "test over"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if ts.standIn.Spawned(ref) {
				t.Error("brannoc still spawned after despawn")
			}
		})
	}
}

// TestServerErrorsAreTyped: errors come back as *protocol.Error with their
// code, to the waiting call or on Events with the request's npc.
func TestServerErrorsAreTyped(t *testing.T) {
	ts := startServer(t, server.Config{MaxNPCs: 2, MaxMessageBytes: 16 << 10}, 0)
	ctx := ctxT(t)
	c := dial(t, ts.url, client.Options{})
	if _, err := c.Spawn(ctx, "a", &protocol.Spawn{Persona: "guard"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Spawn(ctx, "a", &protocol.Spawn{Persona: "guard"})
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeNPCExists}) {
		t.Errorf("second Spawn(a) = %v; want npc_exists", err)
	}
	if _, err := c.Spawn(ctx, "b", &protocol.Spawn{Persona: "guard"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Spawn(ctx, "c", &protocol.Spawn{Persona: "guard"})
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeQuota}) {
		t.Errorf("third Spawn with a quota of 2 = %v; want quota", err)
	}
	if err := c.PlayerSay(ctx, "ghost", &protocol.PlayerSay{Speaker: "p1", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	env := next(t, c)
	perr, ok := env.Body.(*protocol.Error)
	if !ok || perr.Code != protocol.CodeUnknownNPC || env.NPC != "ghost" || env.ID == "" {
		t.Errorf("event after player_say to ghost = %+v %+v; want unknown_npc for ghost with the request id", env, env.Body)
	}
	// The session goes on.
	if _, err := c.Ping(ctx); err != nil {
		t.Errorf("Ping after errors = %v", err)
	}
	// A frame over the server's limit is refused before it is sent.
	huge := &protocol.Perceive{}
	for i := range protocol.MaxEvents {
		huge.Events = append(huge.Events, protocol.Event{Kind: "speech", Source: strconv.Itoa(i), Text: strings.Repeat("x", protocol.MaxTextBytes)})
	}
	if err := c.Perceive(ctx, "a", huge); !errors.Is(err, &protocol.Error{Code: protocol.CodeTooLarge}) {
		t.Errorf("Perceive of a 64 KB frame with a 16 KiB limit = %v; want too_large", err)
	}
	// Local validation catches a bad message before it is sent.
	err = c.PlayerSay(ctx, "a", &protocol.PlayerSay{Speaker: "p1"})
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeBadField}) {
		t.Errorf("PlayerSay without text = %v; want bad_field", err)
	}
}

// TestResumeReplaysMissed cuts the network while an NPC is talking, keeps it
// down while the rest of the answer is sent, and checks that the client
// resumes the session and sees every message exactly once, in order.
func TestResumeReplaysMissed(t *testing.T) {
	ts := startServer(t, server.Config{}, 20*time.Millisecond)
	ctx := ctxT(t)
	var k killableDialer
	c := dial(t, ts.url, client.Options{Dialer: k.dialer(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	session := c.Welcome().SessionID
	if _, err := c.Spawn(ctx, "brannoc", &protocol.Spawn{Persona: "blacksmith"}); err != nil {
		t.Fatal(err)
	}
	if err := c.PlayerSay(ctx, "brannoc", &protocol.PlayerSay{Speaker: "p1", Text: "Shall we trade?"}); err != nil {
		t.Fatal(err)
	}
	before := until(t, c, func(env protocol.Envelope) bool { return env.Type == "say" })
	k.cut(true)
	// The stand-in sends a delta every 20 ms; 4 deltas and the final say
	// go out while the network is down.
	time.Sleep(300 * time.Millisecond)
	k.unblock()

	after := until(t, c, finalSay)
	var welcome *protocol.Welcome
	var said string
	seqs := []uint64{}
	for _, env := range append(before, after...) {
		switch b := env.Body.(type) {
		case *protocol.Welcome:
			welcome = b
			continue
		case *protocol.Say:
			said += b.Delta
		}
		seqs = append(seqs, env.Seq)
	}
	if welcome == nil || !welcome.Resumed || welcome.SessionID != session || welcome.Replayed == 0 {
		t.Fatalf("welcome after reconnect = %+v; want session %s resumed with a replay", welcome, session)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("seqs %v; want consecutive, each once", seqs)
			break
		}
	}
	final := after[len(after)-1].Body.(*protocol.Say)
	const want = "Let's see what you've got, then."
	if said != want || final.Text != want {
		t.Errorf("said %q, final %q; want %q", said, final.Text, want)
	}
	if s := c.Stats(); s.Reconnects != 1 {
		t.Errorf("Stats() = %+v; want 1 reconnect", s)
	}
	// The session's NPC is still there.
	if err := c.PlayerSay(ctx, "brannoc", &protocol.PlayerSay{Speaker: "p1", Text: "bye"}); err != nil {
		t.Fatal(err)
	}
	if got := until(t, c, finalSay); got[len(got)-1].Body.(*protocol.Say).Text != "Safe travels." {
		t.Errorf("answer after resume = %+v; want Safe travels.", got[len(got)-1].Body)
	}
}

// TestResumeAcrossProcesses: a new client given the token and last seq of
// an earlier one takes the session over, with what came after that seq.
func TestResumeAcrossProcesses(t *testing.T) {
	ts := startServer(t, server.Config{}, 0)
	ctx := ctxT(t)
	a := dial(t, ts.url, client.Options{})
	if _, err := a.Spawn(ctx, "pip", &protocol.Spawn{Persona: "child"}); err != nil {
		t.Fatal(err)
	}
	token, seen := a.Welcome().ResumeToken, a.LastSeq()
	if err := a.PlayerSay(ctx, "pip", &protocol.PlayerSay{Speaker: "p1", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	missed := until(t, a, finalSay)

	b := dial(t, ts.url, client.Options{ResumeToken: token, LastSeq: seen})
	if w := b.Welcome(); !w.Resumed || w.Replayed != uint64(len(missed)) {
		t.Fatalf("Welcome() = %+v; want resumed with %d replayed", w, len(missed))
	}
	replay := until(t, b, finalSay)
	if len(replay) != len(missed) || replay[0].Seq != missed[0].Seq {
		t.Errorf("replay of %d from seq %d; want %d from %d", len(replay), replay[0].Seq, len(missed), missed[0].Seq)
	}
	// The first client was taken over and stops instead of taking the
	// session back.
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("first client still running after takeover")
	}
	if !errors.Is(a.Err(), client.ErrTakenOver) {
		t.Errorf("first client Err() = %v; want ErrTakenOver", a.Err())
	}
	if _, err := b.Ping(ctx); err != nil {
		t.Errorf("Ping on the client that took over = %v", err)
	}
}

// TestResumeRefused: an unknown token gives a new session, said plainly.
func TestResumeRefused(t *testing.T) {
	ts := startServer(t, server.Config{}, 0)
	c := dial(t, ts.url, client.Options{ResumeToken: "no-such-token", LastSeq: 12})
	if w := c.Welcome(); w.Resumed || w.ResumeError == "" {
		t.Errorf("Welcome() = %+v; want a new session with resume_error", w)
	}
	if got := c.LastSeq(); got != 0 {
		t.Errorf("LastSeq() = %d in a new session; want 0", got)
	}
}

func TestAuth(t *testing.T) {
	ts := startServer(t, server.Config{APIKeys: []string{"sesame"}}, 0)
	ctx := ctxT(t)
	for _, tc := range []struct {
		name string
		opts client.Options
		code protocol.Code // "" for success
	}{
		{"no key", client.Options{}, protocol.CodeUnauthorized},
		{"wrong key in header", client.Options{APIKey: "guess"}, protocol.CodeUnauthorized},
		{"wrong key in hello", client.Options{APIKey: "guess", KeyInHello: true}, protocol.CodeUnauthorized},
		{"key in header", client.Options{APIKey: "sesame"}, ""},
		{"key in hello", client.Options{APIKey: "sesame", KeyInHello: true}, ""},
	} {
		tc.opts.Logger = quiet
		c, err := client.Dial(ctx, ts.url, tc.opts)
		if c != nil {
			c.Close()
		}
		if tc.code == "" && err != nil {
			t.Errorf("Dial(%s) = %v; want success", tc.name, err)
		}
		if tc.code != "" && !errors.Is(err, &protocol.Error{Code: tc.code}) {
			t.Errorf("Dial(%s) = %v; want %s", tc.name, err, tc.code)
		}
	}
}

// TestClose: Close flushes what was queued, closes Events, and later calls
// fail with ErrClosed.
func TestClose(t *testing.T) {
	ts := startServer(t, server.Config{}, 0)
	ctx := ctxT(t)
	c := dial(t, ts.url, client.Options{})
	if _, err := c.Spawn(ctx, "n1", &protocol.Spawn{Persona: "guard"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Despawn(ctx, "n1", ""); err != nil {
		t.Fatal(err)
	}
	ref := server.NPCRef{Session: c.Welcome().SessionID, NPC: "n1"}
	c.Close()
	if _, ok := <-c.Events(); ok {
		t.Error("Events still open after Close")
	}
	if _, err := c.Ping(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Ping after Close = %v; want ErrClosed", err)
	}
	if c.Err() != nil {
		t.Errorf("Err() after Close = %v; want nil", c.Err())
	}
	if ts.standIn.Spawned(ref) {
		t.Error("the despawn queued before Close was not sent")
	}
}

// TestGiveUp: with the server gone, the client stops after ReconnectFor and
// says why.
func TestGiveUp(t *testing.T) {
	ts := startServer(t, server.Config{}, 0)
	var k killableDialer
	c := dial(t, ts.url, client.Options{Dialer: k.dialer(), ReconnectFor: 200 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	k.cut(true)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("client still reconnecting long after ReconnectFor")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "network down") {
		t.Errorf("Err() = %v; want the reconnection failure", err)
	}
}

// TestNoReconnect: with reconnection off, a dropped connection stops the
// client, closes Events and says so.
func TestNoReconnect(t *testing.T) {
	ts := startServer(t, server.Config{}, 0)
	var k killableDialer
	c := dial(t, ts.url, client.Options{Dialer: k.dialer(), NoReconnect: true})
	k.cut(false)
	for range c.Events() {
	}
	if !errors.Is(c.Err(), client.ErrDisconnected) {
		t.Errorf("Err() = %v; want ErrDisconnected", c.Err())
	}
	if err := c.Interrupt(ctxT(t), "n1", ""); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Interrupt after the drop = %v; want ErrClosed", err)
	}
}
