package link

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/demo/village"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

func serverOptions(host server.NPCHost) server.Options {
	return server.Options{Host: host, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Model: protocol.Model{Name: "stand-in", Backend: "standin"}}
}

func oakvale(t testing.TB) *village.World {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	set, err := persona.LoadFS(assets.Personas(), assets.Worlds(), persona.Known{Catalog: cat,
		Trees: []string{"child", "farmer", "guard", "innkeeper", "merchant", "wanderer"}})
	if err != nil {
		t.Fatal(err)
	}
	var people []*persona.Persona
	for _, id := range set.PersonaIDs() {
		if p := set.Personas[id]; p.World == "oakvale" {
			people = append(people, p)
		}
	}
	m, _ := village.Build(set.Worlds["oakvale"])
	return village.NewWorld(m, people, 1)
}

// play runs the game loop's network half, a tick a millisecond, until done
// says so or 20 s pass.
func play(t *testing.T, l *Link, w *village.World, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("no answer within 20s")
		}
		l.Poll(w)
		w.Step(time.Second / 60)
		l.Flush(w)
		time.Sleep(time.Millisecond)
	}
}

// TestConversation plays the demo's client side against the stand-in: the
// player asks Pip to follow, and the test checks that the reply and the act
// arrived and that the NPC host got the game's action status, with the
// server in this process (the demo's default) and on its own (-addr).
func TestConversation(t *testing.T) {
	for _, mode := range []string{"in-process", "addr"} {
		t.Run(mode, func(t *testing.T) {
			host := server.NewStandIn(server.StandInOptions{DeltaDelay: 5 * time.Millisecond})
			defer host.Close()
			opt := Options{Server: serverOptions(host)}
			if mode == "addr" {
				srv, err := server.New(serverOptions(host))
				if err != nil {
					t.Fatal(err)
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				served := make(chan error, 1)
				// Serve returns when the test's deferred cancel runs.
				go func() { served <- srv.Serve(ctx, ln) }()
				defer func() { cancel(); <-served }()
				opt = Options{Addr: "ws://" + ln.Addr().String() + "/v1/ws"}
			}
			w := oakvale(t)
			l, err := Start(context.Background(), opt, w, &protocol.World{WorldID: "oakvale", Lore: "a river town"})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, n := range w.NPCs {
				if !host.Spawned(server.NPCRef{Session: l.SessionID(), NPC: n.ID}) {
					t.Errorf("%s is not spawned on the server", n.ID)
				}
			}
			if err := w.Talk("pip", "Come with me, Pip."); err != nil {
				t.Fatal(err)
			}
			pip := w.Entity("pip")
			play(t, l, w, func() bool { return pip.Says > 0 && pip.Acts > 0 })
			if pip.LastSaid == "" || pip.Bubble != pip.LastSaid {
				t.Errorf("pip said %q, bubble shows %q; want the reply in the bubble", pip.LastSaid, pip.Bubble)
			}
			if pip.Action == nil || pip.Action.Name != "follow" {
				t.Fatalf("pip's action = %+v; want follow", pip.Action)
			}
			ref := server.NPCRef{Session: l.SessionID(), NPC: "pip"}
			play(t, l, w, func() bool {
				st, _ := host.ActionStatusOf(ref, pip.LastActID)
				return st == protocol.StatusRunning
			})
			if l.Dropped() != 0 {
				t.Errorf("%d messages dropped; want none", l.Dropped())
			}
		})
	}
}

// followModel decides, whatever it is asked, to follow the player: what is
// checked is how the decision travels, not what a model makes of it.
type followModel struct{}

func (followModel) Generate(_ context.Context, _ mind.Request, say func(string)) (mind.Result, error) {
	say("Right behind you.")
	return mind.Result{Text: `{"emotion":"happy","action":{"name":"follow","target":"player"},"say":"Right behind you."}`}, nil
}

// TestTreePaths: with NPC minds, each NPC's active tree path reaches the
// world (the designer view shows it), and pip's changes branch when his
// decision pre-empts his routine.
func TestTreePaths(t *testing.T) {
	a, err := mind.DefaultAssets()
	if err != nil {
		t.Fatal(err)
	}
	h, err := mind.New(mind.Config{Generator: followModel{}, Assets: a, NoAmbient: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	host, err := server.NewMinds(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := oakvale(t)
	l, err := Start(context.Background(), Options{Server: serverOptions(host)}, w, &protocol.World{Lore: "a river town"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	play(t, l, w, func() bool {
		for _, n := range w.NPCs {
			if n.TreePath == "" {
				return false
			}
		}
		return true
	})
	pip := w.Entity("pip")
	if !strings.Contains(pip.TreePath, "Child_routine") {
		t.Errorf("pip's first path %q; want his routine's", pip.TreePath)
	}
	if err := w.Talk("pip", "Come with me, Pip."); err != nil {
		t.Fatal(err)
	}
	play(t, l, w, func() bool { return strings.Contains(pip.TreePath, "Action_follow") })
	if pip.Action == nil || pip.Action.Name != "follow" {
		t.Errorf("pip's action = %+v; want follow", pip.Action)
	}
}

func TestStartRefusesNoHost(t *testing.T) {
	w := oakvale(t)
	if _, err := Start(context.Background(), Options{}, w, &protocol.World{Lore: "x"}); err == nil {
		t.Error("Start with neither address nor host = nil; want an error")
	}
	if _, err := Start(context.Background(), Options{Addr: "ws://127.0.0.1:1/v1/ws"}, w, &protocol.World{Lore: "x"}); err == nil {
		t.Error("Start against a closed port = nil; want an error")
	}
}

// BenchmarkFirstDelta is the time from the player's line to the first say
// delta in the game's world, through the client, a loopback websocket, the
// in-process server and the stand-in host: the demo's own share of an NPC's
// time to first word, which the real minds add their thinking to.
func BenchmarkFirstDelta(b *testing.B) {
	host := server.NewStandIn(server.StandInOptions{})
	defer host.Close()
	w := oakvale(b)
	opt := Options{Server: serverOptions(host)}
	// A benchmark talks far faster than a player: lift the rate limit.
	opt.Server.Config = server.Config{RatePerSecond: 1e6, RateBurst: 1e6}
	l, err := Start(context.Background(), opt, w, &protocol.World{Lore: "a river town"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	selka := w.Entity("selka")
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		says := selka.Says
		start := time.Now()
		if err := w.Talk("selka", "hello"); err != nil {
			b.Fatal(err)
		}
		l.Flush(w)
		deadline := start.Add(10 * time.Second)
		for selka.WaitingFirst || selka.Says == says { // the whole reply, before the next line
			if time.Now().After(deadline) {
				b.Fatalf("no reply within 10s: %s", l.Status())
			}
			wasWaiting := selka.WaitingFirst
			l.Poll(w)
			if wasWaiting && !selka.WaitingFirst {
				total += time.Since(start)
			}
			runtime.Gosched()
		}
		w.Step(time.Second / 60)
		l.Flush(w)
	}
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms/first-delta")
}
