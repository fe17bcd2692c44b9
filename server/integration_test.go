package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
)

// cuttableDialer dials real TCP connections, remembers the latest so a test
// can cut it like a failing network would, and holds redials until the test
// lets them through.
type cuttableDialer struct {
	mu     sync.Mutex // guards conn, dials
	conn   net.Conn
	dials  int
	redial chan struct{} // closed to let redials through
}

func newCuttableDialer() *cuttableDialer { return &cuttableDialer{redial: make(chan struct{})} }

func (d *cuttableDialer) dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d.mu.Lock()
			d.dials++
			first := d.dials == 1
			d.mu.Unlock()
			if !first {
				select {
				case <-d.redial:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				d.mu.Lock()
				d.conn = c
				d.mu.Unlock()
			}
			return c, err
		}}
}

// cut closes the current connection under the client's feet.
func (d *cuttableDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn.Close()
}

// eventLog reads a client's events on its own goroutine, keeping them for
// the test to wait on.
type eventLog struct {
	mu     sync.Mutex // guards events
	events []protocol.Envelope
	done   chan struct{}
}

func logEvents(c *client.Client) *eventLog {
	l := &eventLog{done: make(chan struct{})}
	// Exits when the client closes Events.
	go func() {
		defer close(l.done)
		for env := range c.Events() {
			l.mu.Lock()
			l.events = append(l.events, env)
			l.mu.Unlock()
		}
	}()
	return l
}

// waitFinal waits for the n-th final say of npc and returns every event up
// to it.
func (l *eventLog) waitFinal(t *testing.T, npc string, n int) []protocol.Envelope {
	t.Helper()
	var got []protocol.Envelope
	waitFor(t, "final say "+npc, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		seen := 0
		for i, env := range l.events {
			if s, ok := env.Body.(*protocol.Say); ok && s.Final && env.NPC == npc {
				if seen++; seen == n {
					got = append([]protocol.Envelope(nil), l.events[:i+1]...)
					return true
				}
			}
		}
		return false
	})
	return got
}

// utterance joins the deltas of utterance id and returns them with its
// final text.
func utterance(events []protocol.Envelope, id string) (deltas, final string) {
	for _, env := range events {
		if s, ok := env.Body.(*protocol.Say); ok && s.UtteranceID == id {
			if s.Final {
				final = s.Text
			} else {
				deltas += s.Delta
			}
		}
	}
	return deltas, final
}

// TestIntegration runs a real server on a loopback port and two real Go
// clients (one per encoding) through hello → spawn → perceive → say/act →
// a dropped connection → resume → replay.
func TestIntegration(t *testing.T) {
	host := NewStandIn(StandInOptions{DeltaDelay: 40 * time.Millisecond})
	defer host.Close()
	ts := startServer(t, testConfig(), serverOpt{host: host})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cut := newCuttableDialer()
	alice, err := client.Dial(ctx, ts.url, client.Options{Name: "alice", Dialer: cut.dialer(), MinBackoff: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatalf("Dial alice: %v", err)
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, ts.url, client.Options{Name: "bob", Subprotocol: protocol.SubprotocolJSON, Logger: quiet})
	if err != nil {
		t.Fatalf("Dial bob: %v", err)
	}
	defer bob.Close()
	aliceLog, bobLog := logEvents(alice), logEvents(bob)
	if a, b := alice.Welcome(), bob.Welcome(); a.SessionID == b.SessionID || a.SessionID == "" || a.Version != protocol.Version {
		t.Fatalf("welcomes %+v and %+v; want two sessions on version %d", a, b, protocol.Version)
	}

	// Both spawn an NPC called "smith": ids are per session.
	for _, c := range []*client.Client{alice, bob} {
		if _, err := c.Spawn(ctx, "smith", &protocol.Spawn{Persona: "blacksmith"}); err != nil {
			t.Fatalf("Spawn: %v", err)
		}
		err := c.Perceive(ctx, "smith", &protocol.Perceive{
			Self:     protocol.Self{Position: protocol.Vec{X: 3, Y: 4}, Location: "the forge"},
			Entities: []protocol.Entity{{ID: "p1", Kind: "player", Name: "Aren", Position: protocol.Vec{X: 4, Y: 4}}},
		})
		if err != nil {
			t.Fatalf("Perceive: %v", err)
		}
	}
	if err := alice.PlayerSay(ctx, "smith", &protocol.PlayerSay{Speaker: "p1", Text: "Can you help me?"}); err != nil {
		t.Fatal(err)
	}
	if err := bob.PlayerSay(ctx, "smith", &protocol.PlayerSay{Speaker: "p1", Text: "What's your price?"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, act string
		log       *eventLog
		c         *client.Client
	}{{"alice", "follow", aliceLog, alice}, {"bob", "trade", bobLog, bob}} {
		events := tc.log.waitFinal(t, "smith", 1)
		var act *protocol.Act
		var uttID string
		for _, env := range events {
			switch b := env.Body.(type) {
			case *protocol.Act:
				act = b
			case *protocol.Decision:
				uttID = b.UtteranceID
			}
		}
		if act == nil || act.Name != tc.act || act.Args["target"] != "p1" {
			t.Fatalf("%s's act = %+v; want %s p1", tc.name, act, tc.act)
		}
		if deltas, final := utterance(events, uttID); final == "" || deltas != final {
			t.Errorf("%s's say: deltas %q, final %q; want them equal", tc.name, deltas, final)
		}
		err := tc.c.ActionStatus(ctx, "smith", &protocol.ActionStatus{ActionID: act.ActionID, Status: protocol.StatusRunning})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Alice's network fails in the middle of a reply. She reconnects only
	// once the whole reply has been sent into the void.
	before := alice.LastSeq()
	if err := alice.PlayerSay(ctx, "smith", &protocol.PlayerSay{Speaker: "p1", Text: "hello there"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reply's first message", func() bool { return alice.LastSeq() > before })
	cut.cut()
	sess := ts.srv.sessionByToken(alice.Welcome().ResumeToken)
	waitFor(t, "the reply to finish while alice is away", func() bool {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		msgs, _ := sess.replay.since(sess.replay.lastSeq() - 1)
		s, ok := msgs[0].Body.(*protocol.Say)
		return sess.conn == nil && ok && s.Final
	})
	// Bob is not affected.
	if _, err := bob.Ping(ctx); err != nil {
		t.Errorf("bob's ping while alice is away: %v", err)
	}
	close(cut.redial)

	events := aliceLog.waitFinal(t, "smith", 2)
	var resumed *protocol.Welcome
	var seqs []uint64
	for _, env := range events {
		if w, ok := env.Body.(*protocol.Welcome); ok {
			resumed = w
		}
		if env.Seq != 0 {
			seqs = append(seqs, env.Seq)
		}
	}
	if resumed == nil || !resumed.Resumed || resumed.Replayed == 0 || resumed.Missed != 0 {
		t.Fatalf("welcome after the reconnection = %+v; want resumed with a replay, nothing missed", resumed)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("alice's seqs %v: want each once, in order, no gaps", seqs)
		}
	}
	last := events[len(events)-1].Body.(*protocol.Say)
	if deltas, final := utterance(events, last.UtteranceID); final != "Well met, traveller. What brings you here?" || deltas != final {
		t.Errorf("the reply across the drop: deltas %q, final %q; want both the greeting", deltas, final)
	}
	if st := alice.Stats(); st.Reconnects != 1 {
		t.Errorf("alice's reconnects = %d; want 1", st.Reconnects)
	}
	if got := ts.counter(t, "anima_replayed_total"); got != float64(resumed.Replayed) {
		t.Errorf("anima_replayed_total = %v; want %d", got, resumed.Replayed)
	}

	// The session and its NPC carry on after the resume.
	if err := alice.PlayerSay(ctx, "smith", &protocol.PlayerSay{Speaker: "p1", Text: "bye"}); err != nil {
		t.Fatal(err)
	}
	events = aliceLog.waitFinal(t, "smith", 3)
	if s := events[len(events)-1].Body.(*protocol.Say); s.Text != "Safe travels." {
		t.Errorf("after the resume, final say = %q; want %q", s.Text, "Safe travels.")
	}
	if _, err := alice.Spawn(ctx, "smith", &protocol.Spawn{Persona: "blacksmith"}); err == nil || !strings.Contains(err.Error(), string(protocol.CodeNPCExists)) {
		t.Errorf("respawning smith after the resume: %v; want npc_exists", err)
	}
	if h := ts.srv.Health(); h.Sessions != 2 || h.NPCs != 2 || h.Connections != 2 {
		t.Errorf("Health() = %+v; want 2 sessions, 2 NPCs, 2 connections", h)
	}
}
