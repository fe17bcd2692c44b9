package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
)

// followModel decides, whatever it is asked, to follow p1 and says so: the
// decoder is tested in inference/; here only the path the decision takes
// through the tree matters.
type followModel struct{}

func (followModel) Generate(_ context.Context, _ mind.Request, say func(string)) (mind.Result, error) {
	say("Right behind you.")
	return mind.Result{Text: `{"emotion":"happy","action":{"name":"follow","target":"p1"},"say":"Right behind you."}`}, nil
}

// A client that spawns an NPC with tree_path gets its tree's active path
// over a real connection: first its routine's, then, when a decision
// pre-empts the routine, the decided action's branch; each message differs
// from the one before (sent on change only). An NPC spawned without it gets
// none.
func TestTreePathOverTheWire(t *testing.T) {
	m := newTestMinds(t, followModel{})
	ts := startServer(t, testConfig(), serverOpt{host: m})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ts.url, client.Options{NoReconnect: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Spawn(ctx, "pip", &protocol.Spawn{Persona: "pip", TreePath: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Spawn(ctx, "selka", &protocol.Spawn{Persona: "selka"}); err != nil {
		t.Fatal(err)
	}

	var paths []string // pip's, joined
	// next reads events until one of pip's paths satisfies ok, answering
	// each act with running so the tree's leaves wait on the game.
	next := func(what string, ok func(string) bool) {
		t.Helper()
		for {
			select {
			case env := <-c.Events():
				switch b := env.Body.(type) {
				case *protocol.TreePath:
					if env.NPC != "pip" {
						t.Fatalf("tree_path for %s, who was spawned without tree_path", env.NPC)
					}
					p := strings.Join(b.Path, " > ")
					if len(paths) > 0 && paths[len(paths)-1] == p {
						t.Errorf("tree_path %q sent twice in a row; want it only when it changes", p)
					}
					paths = append(paths, p)
					if ok(p) {
						return
					}
				case *protocol.Act:
					c.ActionStatus(ctx, env.NPC, &protocol.ActionStatus{ActionID: b.ActionID, Status: protocol.StatusRunning})
				case *protocol.Error:
					t.Fatalf("error from the server: %s: %s", b.Code, b.Message)
				}
			case <-ctx.Done():
				t.Fatalf("no tree_path %s; had\n%s", what, strings.Join(paths, "\n"))
			}
		}
	}
	next("in the routine", func(p string) bool { return strings.Contains(p, "SubTree Child_routine") })
	if !strings.HasPrefix(paths[0], "ReactiveSequence > ") {
		t.Errorf("first path %q; want it to start at the child tree's root, ReactiveSequence", paths[0])
	}

	if err := c.Perceive(ctx, "pip", &protocol.Perceive{Entities: []protocol.Entity{
		{ID: "p1", Kind: "player", Name: "Aren", Position: protocol.Vec{X: 1, Y: 0}}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.PlayerSay(ctx, "pip", &protocol.PlayerSay{Speaker: "p1", Name: "Aren", Text: "Follow me, Pip."}); err != nil {
		t.Fatal(err)
	}
	next("in the decided action's branch", func(p string) bool {
		return strings.HasSuffix(p, "SubTree Pursue > ReactiveFallback > SubTree Action_follow > Follow")
	})
	t.Logf("pip's paths:\n%s", strings.Join(paths, "\n"))
}
