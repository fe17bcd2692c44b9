package server

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
)

// overloadedModel refuses every request, as a decoder whose queue is full.
type overloadedModel struct{}

func (overloadedModel) Generate(context.Context, mind.Request, func(string)) (mind.Result, error) {
	return mind.Result{}, mind.ErrOverloaded
}

// newTestMinds is NPC minds (no ambient thinking) on gen, as the server's
// host, closed with the test.
func newTestMinds(t *testing.T, gen mind.Generator) *Minds {
	t.Helper()
	a, err := mind.DefaultAssets()
	if err != nil {
		t.Fatal(err)
	}
	h, err := mind.New(mind.Config{Generator: gen, Assets: a, NoAmbient: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	m, err := NewMinds(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// When the model is overloaded, a player's line gets an overloaded error,
// the NPC's tree goes on (its routine's acts keep coming), and
// anima_npc_tree_only_total counts it.
func TestMindsOverloadedGoesOnWithTheTree(t *testing.T) {
	m := newTestMinds(t, overloadedModel{})
	ts := startServer(t, testConfig(), serverOpt{host: m})
	if err := m.register(ts.reg); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	c.hello(&protocol.Hello{Versions: []int{1}})
	c.send(protocol.NewEnvelope("s1", "smith", &protocol.Spawn{Persona: "brannoc"}))
	c.recvType("spawned")
	c.send(protocol.NewEnvelope("r1", "smith", &protocol.PlayerSay{Speaker: "p1", Text: "Hello?"}))
	// The routine's act may come before or after the overloaded answer.
	sawAct, sawErr := false, false
	for !sawAct || !sawErr {
		env := c.recv()
		switch env.Type {
		case "error":
			if env.ID != "r1" || errorCode(env) != protocol.CodeOverloaded {
				t.Fatalf("error %+v; want overloaded for r1", env)
			}
			sawErr = true
		case "act":
			sawAct = true // the routine goes on
		}
	}
	if n := ts.counter(t, "anima_npc_tree_only_total"); n != 1 {
		t.Errorf("anima_npc_tree_only_total = %v; want 1", n)
	}
	// The player's think started (and the model refused it).
	if n := ts.counter(t, "anima_npc_player_thinks_total"); n != 1 {
		t.Errorf("anima_npc_player_thinks_total = %v; want 1", n)
	}
}
