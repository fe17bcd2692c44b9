package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
	"github.com/anima-rt/anima/server"
)

// These tests run the real server on the real embedded model. They hold
// with any model of its shape (the barely trained placeholder included):
// constrained decoding makes every decision valid. What only a trained model
// makes meaningful — replies in character, using a remembered name — is
// not asserted; the tests check that the name reaches the prompt.

// shared is the one loaded model of the package's tests: loading it and
// warming its caches once keeps the suite fast.
var shared struct {
	once sync.Once
	d    *node.Decoder
	err  error
}

func testDecoder(t testing.TB) *node.Decoder {
	t.Helper()
	shared.once.Do(func() { shared.d, shared.err = node.LoadDecoder("", 0) })
	if errors.Is(shared.err, assets.ErrNoModel) {
		t.Skip(shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.d
}

// mindServer is a real server with NPC minds on a loopback port.
type mindServer struct {
	url   string
	minds *node.Minds
	stop  func()
}

// startMindServer starts a server whose minds keep their memories in
// dataDir; gen, when not nil, wraps the shared decoder. Only addressed
// speech makes NPCs think, so that the tests know what each decision
// answers.
func startMindServer(t testing.TB, dataDir string, wrap func(mind.Generator) mind.Generator) *mindServer {
	t.Helper()
	d := testDecoder(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := mind.Config{NoAmbient: true, KeepPrompt: true, MaxTokens: 96, Logger: log, Temperature: -1}
	if wrap != nil {
		cfg.Generator = wrap(d)
	}
	m, err := node.OpenMinds(d, dataDir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	host, err := m.NPCHost(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Host: host, Registry: reg, Logger: log, Model: d.Info()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Serve returns when cancel is called, after draining.
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	ms := &mindServer{url: "ws://" + ln.Addr().String() + "/v1/ws", minds: m}
	ms.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(ms.stop)
	return ms
}

func (ms *mindServer) dial(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ms.url, client.Options{NoReconnect: true, EventBuffer: 4096,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The scene of these tests: Brannoc the smith at his forge, a player he
// does not know by name two metres away, and Pip the child.
var scene = &protocol.Perceive{
	Time: "morning",
	Self: protocol.Self{Position: protocol.Vec{X: 10, Y: 4}, Location: "the Ember Forge"},
	Entities: []protocol.Entity{
		{ID: "p1", Kind: "player", Position: protocol.Vec{X: 12, Y: 4}},
		{ID: "n2", Kind: "npc", Name: "Pip", Position: protocol.Vec{X: 14, Y: 6}},
	},
}

// spawnSmith spawns Brannoc as npc limited to actions that need an entity
// target, so every decision names someone he sees.
func spawnSmith(t testing.TB, c *client.Client, npcID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Spawn(ctx, npcID, &protocol.Spawn{Persona: "brannoc", Actions: []string{"greet", "warn"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Perceive(ctx, npcID, scene); err != nil {
		t.Fatal(err)
	}
}

// reply is what the server sent for one player_say.
type reply struct {
	deltas   []string
	final    *protocol.Say
	decision *protocol.Decision
	errMsg   *protocol.Error
	first    time.Duration // from the say to the first delta
}

// say sends a player line with request id id and collects its reply until
// the decision (or an error) for it arrives.
func say(t testing.TB, c *client.Client, npcID, id, text string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Send(ctx, protocol.NewEnvelope(id, npcID, &protocol.PlayerSay{Speaker: "p1", Text: text})); err != nil {
		t.Fatal(err)
	}
	var r reply
	for {
		select {
		case env, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection closed: %v", c.Err())
			}
			if env.NPC != npcID || env.ID != id {
				continue
			}
			switch m := env.Body.(type) {
			case *protocol.Say:
				if m.Final {
					r.final = m
				} else {
					if len(r.deltas) == 0 {
						r.first = time.Since(start)
					}
					r.deltas = append(r.deltas, m.Delta)
				}
			case *protocol.Decision:
				r.decision = m
				return r
			case *protocol.Error:
				r.errMsg = m
				return r
			}
		case <-ctx.Done():
			t.Fatalf("no decision for %s %q within a minute", npcID, text)
		}
	}
}

// checkDecision checks what holds with any model: the raw output parses
// as a decision, the action is one the NPC may take, the target is an
// entity it sees, and the streamed deltas add up to the final say and to
// the decision's say.
func checkDecision(t testing.TB, r reply, actions, visible []string) {
	t.Helper()
	if r.errMsg != nil {
		t.Fatalf("error reply: %v", r.errMsg)
	}
	d := r.decision
	got, err := npc.ParseDecision([]byte(d.Raw))
	if err != nil {
		t.Fatalf("decision raw %q does not parse: %v", d.Raw, err)
	}
	if got.Action.Name != d.Action || got.Action.Target != d.Target || got.Say != d.Say || got.Emotion != d.Emotion {
		t.Errorf("decision message %+v disagrees with its raw output %q", d, d.Raw)
	}
	if !slices.Contains(actions, d.Action) {
		t.Errorf("action %q; want one of %v", d.Action, actions)
	}
	if !slices.Contains(visible, d.Target) {
		t.Errorf("target %q; want a visible entity of %v", d.Target, visible)
	}
	if joined := strings.Join(r.deltas, ""); joined != d.Say {
		t.Errorf("say deltas %q add up to %q; the decision says %q", r.deltas, joined, d.Say)
	}
	if d.Say != "" && (r.final == nil || r.final.Text != d.Say || r.final.UtteranceID != d.UtteranceID) {
		t.Errorf("final say %+v; want the whole %q on utterance %q", r.final, d.Say, d.UtteranceID)
	}
	if d.Stats == nil || d.Stats.PromptTokens == 0 || d.Stats.GeneratedTokens == 0 {
		t.Errorf("decision stats %+v; want prompt and generated tokens", d.Stats)
	}
}

// awaitAct waits for the act that carries the decision out: one whose
// target is the decision's. Acts of the routine or of the action's first
// steps (an emote) are resolved as done, as a game would.
func awaitAct(t testing.TB, c *client.Client, npcID, target string) *protocol.Act {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		select {
		case env, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection closed: %v", c.Err())
			}
			a, isAct := env.Body.(*protocol.Act)
			if !isAct || env.NPC != npcID {
				continue
			}
			if a.Args["target"] == target {
				return a
			}
			c.ActionStatus(ctx, npcID, &protocol.ActionStatus{ActionID: a.ActionID, Status: protocol.StatusSuccess})
		case <-ctx.Done():
			t.Fatalf("no act with target %q within 20 s", target)
		}
	}
}
