package village

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/protocol"
)

// oakvale loads the shipped world and its personas, as the demo does.
func oakvale(t testing.TB) (*Map, []*persona.Persona) { return load(t, "oakvale") }

func load(t testing.TB, world string) (*Map, []*persona.Persona) {
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
	m, skipped := Build(set.Worlds[world])
	if len(skipped) > 0 {
		t.Fatalf("Build(%s) left out %q", world, skipped)
	}
	var people []*persona.Persona
	for _, id := range set.PersonaIDs() {
		if p := set.Personas[id]; p.World == world {
			people = append(people, p)
		}
	}
	return m, people
}

func newTestWorld(t testing.TB) *World {
	m, people := oakvale(t)
	w := NewWorld(m, people, 1)
	now := time.Unix(1000, 0)
	w.Clock = func() time.Time { return now }
	return w
}

// step runs the world for d in game ticks.
func step(w *World, d time.Duration) {
	for range int(d / (time.Second / 60)) {
		w.Step(time.Second / 60)
	}
}

func TestEveryPlaceIsReachableFromTheSquare(t *testing.T) {
	for _, tc := range []struct {
		world string
		kinds []string
		homes int // NPCs placed
	}{
		{"oakvale", []string{"inn", "forge", "market", "well", "gate", "farm", "mill", "woods", "healer", "chapel"}, 8},
		{"beodeulgol", []string{"inn", "forge", "market", "well", "gate", "farm", "mill", "chapel"}, 4},
	} {
		m, people := load(t, tc.world)
		sq, ok := m.Place("market")
		if !ok {
			t.Fatalf("%s: Place(\"market\") not found", tc.world)
		}
		kinds := map[string]bool{}
		for _, p := range m.Places {
			kinds[p.Kind] = true
			if !m.At(p.Spot).Walkable() {
				t.Errorf("%s: %s: spot %v is a %d tile, not walkable", tc.world, p.Name, p.Spot, m.At(p.Spot))
			}
			if path := m.FindPath(sq.Spot, p.Spot); path == nil {
				t.Errorf("%s: FindPath(%v, %v) to %s = nil; want a path", tc.world, sq.Spot, p.Spot, p.Name)
			}
		}
		for _, k := range tc.kinds {
			if !kinds[k] {
				t.Errorf("%s: no %s on the map", tc.world, k)
			}
		}
		w := NewWorld(m, people, 1)
		if len(w.NPCs) != tc.homes {
			t.Errorf("%s: %d NPCs; want %d", tc.world, len(w.NPCs), tc.homes)
		}
		for _, n := range w.NPCs {
			if !m.At(n.Home).Walkable() || m.FindPath(sq.Spot, n.Home) == nil {
				t.Errorf("%s: %s's home %v cannot be reached from the square", tc.world, n.ID, n.Home)
			}
		}
	}
}

func TestFindPathStepsOnWalkableNeighbours(t *testing.T) {
	m, _ := oakvale(t)
	gate, _ := m.Place("gate")
	woods, _ := m.Place("woods")
	path := m.FindPath(gate.Spot, woods.Spot)
	if path == nil {
		t.Fatalf("FindPath(gate, woods) = nil")
	}
	prev := gate.Spot
	for _, p := range path {
		if d := abs(p.X-prev.X) + abs(p.Y-prev.Y); d != 1 {
			t.Fatalf("step %v → %v is %d tiles; want 1", prev, p, d)
		}
		if !m.At(p).Walkable() {
			t.Fatalf("path crosses %v, a %d tile", p, m.At(p))
		}
		prev = p
	}
	if prev != woods.Spot {
		t.Errorf("path ends at %v; want %v", prev, woods.Spot)
	}
	if got := m.FindPath(gate.Spot, Point{5, 23}); got != nil {
		t.Errorf("FindPath into the river = %v; want nil", got)
	}
	if got := m.FindPath(gate.Spot, gate.Spot); got == nil || len(got) != 0 {
		t.Errorf("FindPath to itself = %v; want an empty path", got)
	}
}

func TestPlaceLookup(t *testing.T) {
	m, _ := oakvale(t)
	for _, tc := range []struct {
		ref, want string
	}{
		{"l1", "The Rusty Anchor"},
		{"The Rusty Anchor", "The Rusty Anchor"},
		{"the rusty anchor", "The Rusty Anchor"},
		{"Ember Forge", "the Ember Forge"},
		{"forge", "the Ember Forge"},
		{"well", "the Town Well"},
		{"nowhere", ""},
		{"", ""},
	} {
		p, ok := m.Place(tc.ref)
		if ok != (tc.want != "") || p.Name != tc.want {
			t.Errorf("Place(%q) = %q, %v; want %q", tc.ref, p.Name, ok, tc.want)
		}
	}
}

// statuses returns the action_status messages queued, as "id:status".
func statuses(out []Outgoing) []string {
	var s []string
	for _, o := range out {
		if st, ok := o.Msg.(*protocol.ActionStatus); ok {
			s = append(s, o.NPC+":"+st.ActionID+":"+st.Status)
		}
	}
	return s
}

func act(w *World, npc, id, name string, args protocol.Args) {
	w.Handle(protocol.Envelope{Type: "act", NPC: npc, Body: &protocol.Act{ActionID: id, Name: name, Args: args}})
}

func TestActsReportRunningThenTheirEnd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		npc   string
		act   string
		args  protocol.Args
		after time.Duration
		want  []string
	}{
		{"go_to by place id arrives", "pip", "go_to", protocol.Args{"target": "l1"}, 15 * time.Second,
			[]string{"pip:a1:running", "pip:a1:success"}},
		{"go_to by kind arrives", "maren", "go_to", protocol.Args{"target": "well"}, 20 * time.Second,
			[]string{"maren:a1:running", "maren:a1:success"}},
		{"go_to nowhere fails", "pip", "go_to", protocol.Args{"target": "Atlantis"}, time.Second,
			[]string{"pip:a1:running", "pip:a1:failure"}},
		{"follow keeps running", "pip", "follow", protocol.Args{"target": PlayerID}, 5 * time.Second,
			[]string{"pip:a1:running"}},
		{"follow ends after its time", "pip", "follow", protocol.Args{"target": PlayerID}, followFor + time.Second,
			[]string{"pip:a1:running", "pip:a1:success"}},
		{"follow a stranger fails", "pip", "follow", protocol.Args{"target": "ghost"}, time.Second,
			[]string{"pip:a1:running", "pip:a1:failure"}},
		{"give walks over and hands it", "selka", "give", protocol.Args{"target": PlayerID, "item": "bread"}, 15 * time.Second,
			[]string{"selka:a1:running", "selka:a1:success"}},
		{"give what one lacks fails", "selka", "give", protocol.Args{"target": PlayerID, "item": "dragon egg"}, time.Second,
			[]string{"selka:a1:running", "selka:a1:failure"}},
		{"idle ends at once", "tobin", "idle", nil, 0, []string{"tobin:a1:running", "tobin:a1:success"}},
		{"greet shows and ends", "tobin", "greet", protocol.Args{"target": PlayerID}, 4 * time.Second,
			[]string{"tobin:a1:running", "tobin:a1:success"}},
		{"call_guard summons the guard", "selka", "call_guard", nil, 0,
			[]string{"selka:a1:running", "selka:a1:success"}},
		{"flee runs off", "pip", "flee", protocol.Args{"target": PlayerID}, 5 * time.Second,
			[]string{"pip:a1:running", "pip:a1:success"}},
		{"an unknown action fails", "pip", "teleport", nil, 0, []string{"pip:a1:running", "pip:a1:failure"}},
		{"say shows its line", "pip", "say", protocol.Args{"text": "Hi!"}, 4 * time.Second,
			[]string{"pip:a1:running", "pip:a1:success"}},
		{"say without a line fails", "pip", "say", nil, 0, []string{"pip:a1:running", "pip:a1:failure"}},
		{"emote shows the emotion", "pip", "emote", protocol.Args{"emotion": "happy"}, 4 * time.Second,
			[]string{"pip:a1:running", "pip:a1:success"}},
		{"wander walks about", "tobin", "wander", nil, 10 * time.Second,
			[]string{"tobin:a1:running", "tobin:a1:success"}},
		{"leave walks home", "pip", "leave", nil, 10 * time.Second,
			[]string{"pip:a1:running", "pip:a1:success"}},
		{"attack walks over and strikes", "aldric", "attack", protocol.Args{"target": "pip"}, 20 * time.Second,
			[]string{"aldric:a1:running", "aldric:a1:success"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWorld(t)
			act(w, tc.npc, "a1", tc.act, tc.args)
			step(w, tc.after)
			if got := statuses(w.Drain()); !slices.Equal(got, tc.want) {
				t.Errorf("act %s %v, then %v: statuses %q; want %q", tc.act, tc.args, tc.after, got, tc.want)
			}
		})
	}
}

func TestGiveMovesTheItem(t *testing.T) {
	w := newTestWorld(t)
	act(w, "selka", "a1", "give", protocol.Args{"target": PlayerID, "item": "bread"})
	step(w, 15*time.Second)
	if !slices.Contains(w.Player.Inventory, "bread") || len(w.Player.Inventory) != 5 {
		t.Errorf("player inventory %q; want the 4 starting items and the bread", w.Player.Inventory)
	}
	if slices.Contains(w.Entity("selka").Inventory, "bread") {
		t.Errorf("selka still has the bread: %q", w.Entity("selka").Inventory)
	}
}

func TestCallGuardSendsTheGuard(t *testing.T) {
	w := newTestWorld(t)
	act(w, "selka", "a1", "call_guard", nil)
	g := w.Entity("aldric")
	if len(g.Path) == 0 {
		t.Fatalf("after call_guard the guard has no path")
	}
	step(w, 30*time.Second)
	if d := g.Pos.Dist(w.Entity("selka").Pos); d > 1.5 {
		t.Errorf("guard is %.1f tiles from the caller after 30s; want beside her", d)
	}
}

// A new act supersedes the running one, which fails at the next step; a
// cancel silences an action. NPC minds start the new action before they
// halt the old one, so the old one's cancel comes right behind the new act:
// then no failure is owed. And a status that crossed its action's cancel
// on the wire draws an unknown_action the game expects, not an error.
func TestNewActSupersedesAndCancelSilences(t *testing.T) {
	w := newTestWorld(t)
	act(w, "pip", "a1", "follow", protocol.Args{"target": PlayerID})
	act(w, "pip", "a2", "go_to", protocol.Args{"target": "gate"})
	w.Handle(protocol.Envelope{Type: "cancel", NPC: "pip", Body: &protocol.Cancel{ActionID: "a2"}})
	step(w, 20*time.Second)
	want := []string{"pip:a1:running", "pip:a2:running", "pip:a1:failure"}
	if got := statuses(w.Drain()); !slices.Equal(got, want) {
		t.Errorf("statuses %q; want %q", got, want)
	}

	act(w, "pip", "a3", "follow", protocol.Args{"target": PlayerID})
	act(w, "pip", "a4", "greet", protocol.Args{"target": PlayerID})
	w.Handle(protocol.Envelope{Type: "cancel", NPC: "pip", Body: &protocol.Cancel{ActionID: "a3"}})
	step(w, 20*time.Second)
	want = []string{"pip:a3:running", "pip:a4:running", "pip:a4:success"}
	if got := statuses(w.Drain()); !slices.Equal(got, want) {
		t.Errorf("superseded, then cancelled: statuses %q; want %q", got, want)
	}

	pip := w.Entity("pip")
	w.Handle(protocol.Envelope{Type: "cancel", NPC: "pip", Body: &protocol.Cancel{ActionID: "a4"}}) // after its success went out
	w.Handle(protocol.Envelope{Type: "error", NPC: "pip", Body: protocol.Errorf(protocol.CodeUnknownAction, "no action a4")})
	if pip.Errors != 0 {
		t.Errorf("errors = %d after the unknown_action a crossed status draws; want 0", pip.Errors)
	}
	w.Handle(protocol.Envelope{Type: "error", NPC: "pip", Body: protocol.Errorf(protocol.CodeUnknownAction, "no action a9")})
	if pip.Errors != 1 {
		t.Errorf("errors = %d after an unexpected unknown_action; want 1", pip.Errors)
	}
}

func TestSayDeltasBuildTheBubble(t *testing.T) {
	w := newTestWorld(t)
	if err := w.Talk("selka", "Hello"); err != nil {
		t.Fatal(err)
	}
	out := w.Drain()
	if len(out) == 0 {
		t.Fatal("Talk queued nothing")
	}
	if ps, ok := out[len(out)-1].Msg.(*protocol.PlayerSay); !ok || ps.Text != "Hello" || out[len(out)-1].NPC != "selka" {
		t.Fatalf("Talk queued %+v last; want player_say Hello to selka", out[len(out)-1])
	}
	n := w.Entity("selka")
	for _, d := range []string{"Well ", "met."} {
		w.Handle(protocol.Envelope{Type: "say", NPC: "selka", Body: &protocol.Say{UtteranceID: "u1", Delta: d}})
	}
	if n.Bubble != "Well met." || n.Says != 0 || n.WaitingFirst {
		t.Errorf("after deltas: bubble %q, says %d, waiting %v; want %q, 0, false", n.Bubble, n.Says, n.WaitingFirst, "Well met.")
	}
	w.Handle(protocol.Envelope{Type: "say", NPC: "selka", Body: &protocol.Say{UtteranceID: "u1", Final: true, Text: "Well met!"}})
	if n.Bubble != "Well met!" || n.Says != 1 {
		t.Errorf("after final: bubble %q, says %d; want the final text and 1", n.Bubble, n.Says)
	}
	w.Handle(protocol.Envelope{Type: "decision", NPC: "selka", Body: &protocol.Decision{Emotion: "happy", Raw: `{"emotion":"happy"}`,
		Stats: &protocol.DecisionStats{ReusedTokens: 120, TTFTMS: 80}}})
	if n.Emotion != "happy" || n.Reused != 120 || !n.ReusedKnown || !strings.Contains(n.LastDecision, `"happy"`) ||
		!strings.Contains(n.DecisionShown, `"happy"`) {
		t.Errorf("after decision: emotion %q reused %d/%v decision %s", n.Emotion, n.Reused, n.ReusedKnown, n.LastDecision)
	}
	if !strings.Contains(n.LastDecision, `"raw"`) || strings.Contains(n.DecisionShown, `"raw"`) {
		t.Errorf("decision %s, shown %s; want the raw output kept, but not shown", n.LastDecision, n.DecisionShown)
	}
	step(w, bubbleHold+time.Second)
	if n.Bubble != "" || n.Emotion != "" {
		t.Errorf("bubble %q and emotion %q still shown after %v", n.Bubble, n.Emotion, bubbleHold+time.Second)
	}
	if err := w.Talk("nobody", "hi"); err == nil {
		t.Error(`Talk("nobody") = nil; want an error`)
	}
}

// An answer ends with its final say, or with a decision that says
// nothing (a model may choose silence): the script's await reply waits for
// either, and the NPC is no longer answering.
func TestAnswerEndsWithoutWords(t *testing.T) {
	w := newTestWorld(t)
	n := w.Entity("selka")
	for _, tc := range []struct {
		name string
		end  []protocol.Message
	}{
		{"final say", []protocol.Message{&protocol.Say{UtteranceID: "u1", Final: true, Text: "Hi."},
			&protocol.Decision{Emotion: "happy", Action: "greet", Say: "Hi."}}},
		{"silent decision", []protocol.Message{&protocol.Decision{Emotion: "calm", Action: "idle"}}},
	} {
		before := n.Answers
		if err := w.Talk("selka", "Hello"); err != nil {
			t.Fatal(err)
		}
		for _, m := range tc.end {
			w.Handle(protocol.NewEnvelope("", "selka", m))
		}
		if n.Answers != before+1 || n.answering || n.WaitingFirst {
			t.Errorf("%s: answers %d→%d, answering %v, waiting %v; want one answer ended", tc.name, before, n.Answers, n.answering, n.WaitingFirst)
		}
	}
	// A decision of the NPC's own, with nobody waiting, is no answer.
	w.Handle(protocol.NewEnvelope("", "selka", &protocol.Decision{Emotion: "calm", Action: "idle"}))
	if n.Answers != 2 {
		t.Errorf("answers = %d after an ambient decision; want 2", n.Answers)
	}
}

func TestPerceptionSeesOnlyWhatIsNear(t *testing.T) {
	w := newTestWorld(t)
	step(w, 2*time.Second)
	seen := map[string][]string{}
	for _, o := range w.Drain() {
		if p, ok := o.Msg.(*protocol.Perceive); ok {
			seen[o.NPC] = nil
			for _, e := range p.Entities {
				seen[o.NPC] = append(seen[o.NPC], e.ID)
			}
		}
	}
	if len(seen) != len(w.NPCs) {
		t.Fatalf("%d NPCs perceived; want all %d", len(seen), len(w.NPCs))
	}
	for id, ids := range seen {
		n := w.Entity(id)
		for _, e := range append([]*Entity{w.Player}, w.NPCs...) {
			near := e != n && e.Pos.Dist(n.Pos) <= SightRadius
			if near != slices.Contains(ids, e.ID) {
				t.Errorf("%s sees %s: %v; want %v (%.1f tiles)", id, e.ID, !near, near, e.Pos.Dist(n.Pos))
			}
		}
	}
}

func TestDeedsAreWitnessed(t *testing.T) {
	w := newTestWorld(t)
	w.Player.Pos = w.Entity("selka").Pos
	w.Player.Pos.X += 1
	w.Drain()
	if _, err := w.Deed("steal"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Deed("attack"); err != nil {
		t.Fatal(err)
	}
	if got := w.Entity("selka").Health; got != 90 {
		t.Errorf("selka's health after one blow = %v; want 90", got)
	}
	if !slices.Contains(w.Player.Inventory, "bread") {
		t.Errorf("player inventory %q; want the stolen bread", w.Player.Inventory)
	}
	w.Step(time.Second / 60)
	var kinds []string
	for _, o := range w.Drain() {
		if p, ok := o.Msg.(*protocol.Perceive); ok && o.NPC == "selka" {
			for _, e := range p.Events {
				kinds = append(kinds, e.Kind+":"+e.Item)
			}
		}
	}
	if want := []string{"steal:bread", "attack:"}; !slices.Equal(kinds, want) {
		t.Errorf("selka perceived %q; want %q", kinds, want)
	}
	w.Player.Pos = vecOf(Point{2, 2})
	if _, err := w.Deed("attack"); err == nil {
		t.Error("Deed(attack) with nobody near = nil; want an error")
	}
}

// BenchmarkTick is the game logic of one 60 Hz tick with every NPC walking
// and a say delta arriving: the part of a frame that is not drawing. It
// reports the share of the 16.7 ms frame budget it takes.
func BenchmarkTick(b *testing.B) {
	w := newTestWorld(b)
	for i, n := range w.NPCs {
		act(w, n.ID, "a"+n.ID, "go_to", protocol.Args{"target": w.Map.Places[i%len(w.Map.Places)].ID})
	}
	say := protocol.Envelope{Type: "say", NPC: "pip", Body: &protocol.Say{UtteranceID: "u1", Delta: "word "}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Handle(say)
		w.Step(time.Second / 60)
		w.Drain()
		if i%600 == 599 { // keep them walking
			for _, n := range w.NPCs {
				if n.Action == nil {
					act(w, n.ID, "b"+n.ID, "wander", nil)
				}
			}
		}
	}
	perTick := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perTick/1e3, "µs/tick")
	b.ReportMetric(100*perTick/(1e9/60), "%frame")
}

func TestWalkingAwayInterrupts(t *testing.T) {
	w := newTestWorld(t)
	if err := w.Talk("selka", "Tell me everything."); err != nil {
		t.Fatal(err)
	}
	w.Handle(protocol.Envelope{Type: "say", NPC: "selka", Body: &protocol.Say{UtteranceID: "u1", Delta: "Well, "}})
	w.Drain()
	interrupts := func() int {
		k := 0
		for _, o := range w.Drain() {
			if _, ok := o.Msg.(*protocol.Interrupt); ok && o.NPC == "selka" {
				k++
			}
		}
		return k
	}
	w.Player.Pos = w.Entity("selka").Pos
	step(w, time.Second)
	if got := interrupts(); got != 0 {
		t.Errorf("player beside her: %d interrupts; want 0", got)
	}
	w.Player.Pos = vecOf(Point{2, 2})
	step(w, time.Second)
	if got := interrupts(); got != 1 {
		t.Errorf("player gone: %d interrupts; want exactly 1", got)
	}
	w.Handle(protocol.Envelope{Type: "say", NPC: "selka", Body: &protocol.Say{UtteranceID: "u1", Final: true, Text: "Well, "}})
	w.Handle(protocol.Envelope{Type: "say", NPC: "selka", Body: &protocol.Say{UtteranceID: "u2", Delta: "Hum"}})
	step(w, time.Second)
	if got := interrupts(); got != 0 {
		t.Errorf("selka speaking unasked: %d interrupts; want 0", got)
	}
	if err := w.Talk("selka", "Again?"); err != nil {
		t.Fatal(err)
	}
	w.Handle(protocol.Envelope{Type: "say", NPC: "selka", Body: &protocol.Say{UtteranceID: "u3", Delta: "Oh"}})
	step(w, time.Second)
	if got := interrupts(); got != 1 {
		t.Errorf("a new answer to a distant player: %d interrupts; want 1", got)
	}
}

func TestNPCsHearEachOther(t *testing.T) {
	w := newTestWorld(t)
	pip, tobin := w.Entity("pip"), w.Entity("tobin")
	tobin.Pos = pip.Pos
	tobin.Pos.X += 2
	step(w, 2*time.Second)
	w.Drain()
	w.Handle(protocol.Envelope{Type: "say", NPC: "pip", Body: &protocol.Say{UtteranceID: "u1", Final: true, Text: "Look, a wolf!"}})
	w.Step(time.Second / 60)
	heard := map[string]string{}
	for _, o := range w.Drain() {
		if p, ok := o.Msg.(*protocol.Perceive); ok {
			for _, e := range p.Events {
				if e.Kind == "speech" && e.Source == "pip" {
					heard[o.NPC] = e.Text
				}
			}
		}
	}
	if heard["tobin"] != "Look, a wolf!" {
		t.Errorf("tobin, 2 tiles away, heard %q; want pip's line", heard["tobin"])
	}
	if _, ok := heard["pip"]; ok {
		t.Error("pip heard himself")
	}
	if _, ok := heard["wrenna"]; ok {
		t.Error("wrenna, across town, heard pip")
	}
}

// The designer view's tree path comes from tree_path messages; an empty
// path is a tree with nothing running.
func TestTreePathMessages(t *testing.T) {
	w := newTestWorld(t)
	n := w.Entity("pip")
	w.Handle(protocol.NewEnvelope("", "pip", &protocol.TreePath{Path: []string{"Sequence", "Wander"}}))
	if n.TreePath != "Sequence > Wander" || n.PathChanges != 1 {
		t.Errorf("path %q after %d messages; want %q after 1", n.TreePath, n.PathChanges, "Sequence > Wander")
	}
	w.Handle(protocol.NewEnvelope("", "pip", &protocol.TreePath{}))
	if n.TreePath != "(idle)" || n.PathChanges != 2 {
		t.Errorf("path %q after %d messages; want (idle) after 2", n.TreePath, n.PathChanges)
	}
	// The decided actions it pursues show in its path; a new line starts
	// the list afresh.
	pursue := func(action, leaf string) {
		w.Handle(protocol.NewEnvelope("", "pip", &protocol.TreePath{Path: []string{"ReactiveFallback", "SubTree Pursue",
			"ReactiveFallback", "SubTree Action_" + action, "Sequence", leaf}}))
	}
	pursue("greet", "MoveTo")
	pursue("greet", "Act")
	pursue("follow", "Follow")
	if !slices.Equal(n.Pursued, []string{"greet", "follow"}) {
		t.Errorf("pursued %q; want [greet follow]", n.Pursued)
	}
	if err := w.Talk("pip", "Stop."); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.Pursued, []string{"follow"}) {
		t.Errorf("pursued %q after a new line; want only the action running then, follow", n.Pursued)
	}
}

// Each line the player says is a Reply, timed from Talk to the first say
// delta on the world's clock, and completed by its final say and decision.
func TestRepliesAreTimed(t *testing.T) {
	w := newTestWorld(t)
	now := time.Unix(1000, 0)
	w.Clock = func() time.Time { return now }
	if err := w.Talk("selka", "Hello"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(300 * time.Millisecond)
	w.HandleAt(protocol.NewEnvelope("", "selka", &protocol.Say{UtteranceID: "u1", Delta: "Well "}), now.Add(-50*time.Millisecond))
	now = now.Add(100 * time.Millisecond)
	w.Handle(protocol.NewEnvelope("", "selka", &protocol.Say{UtteranceID: "u1", Final: true, Text: "Well met."}))
	w.Handle(protocol.NewEnvelope("", "selka", &protocol.Decision{Emotion: "happy", Action: "greet", Say: "Well met.",
		UtteranceID: "u1", Stats: &protocol.DecisionStats{PromptTokens: 500, ReusedTokens: 450, TTFTMS: 120}}))
	// Silence is an answer too: no first word.
	if err := w.Talk("pip", "Hi"); err != nil {
		t.Fatal(err)
	}
	w.Handle(protocol.NewEnvelope("", "pip", &protocol.Decision{Emotion: "calm", Action: "idle"}))
	// A decision of its own later is not the answer's.
	w.Handle(protocol.NewEnvelope("", "selka", &protocol.Decision{Emotion: "sad", Action: "idle",
		Stats: &protocol.DecisionStats{TTFTMS: 999}}))
	want := []Reply{
		{NPC: "selka", Line: "Hello", Sent: time.Unix(1000, 0), FirstWord: 300 * time.Millisecond, Arrived: 250 * time.Millisecond, Said: "Well met.", Ended: true,
			Decided: true, Action: "greet", ModelTTFTMS: 120, PromptTokens: 500, ReusedTokens: 450},
		{NPC: "pip", Line: "Hi", Sent: time.Unix(1000, 0).Add(400 * time.Millisecond), Ended: true, Decided: true, Action: "idle"},
	}
	if !slices.Equal(w.Replies, want) {
		t.Errorf("Replies =\n%+v\nwant\n%+v", w.Replies, want)
	}

	// A line said while the NPC is still speaking: the rest of that
	// utterance (here cut short by the line) is not the answer.
	w.Handle(protocol.NewEnvelope("", "selka", &protocol.Say{UtteranceID: "u2", Delta: "The ale "}))
	if err := w.Talk("selka", "Wait!"); err != nil {
		t.Fatal(err)
	}
	w.Handle(protocol.NewEnvelope("", "selka", &protocol.Say{UtteranceID: "u2", Delta: "is", Final: true, Text: "The ale is"}))
	if r := w.Replies[2]; r.FirstWord != 0 || r.Ended {
		t.Errorf("reply %+v after the old utterance's last words; want no first word, not ended", r)
	}
	now = now.Add(200 * time.Millisecond)
	w.Handle(protocol.NewEnvelope("", "selka", &protocol.Say{UtteranceID: "u3", Delta: "Yes?", Final: true, Text: "Yes?"}))
	if r := w.Replies[2]; r.FirstWord != 200*time.Millisecond || !r.Ended || r.Said != "Yes?" {
		t.Errorf("reply %+v; want its first word after 200ms, ended with Yes?", r)
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want Dist
	}{
		{nil, Dist{}},
		{[]float64{5}, Dist{N: 1, Min: 5, P50: 5, P99: 5, Max: 5, Mean: 5}},
		{[]float64{4, 1, 3, 2}, Dist{N: 4, Min: 1, P50: 2, P99: 4, Max: 4, Mean: 2.5}},
	} {
		if got := Summarize(tc.xs); got != tc.want {
			t.Errorf("Summarize(%v) = %+v; want %+v", tc.xs, got, tc.want)
		}
	}
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = float64(200 - i)
	}
	if d := Summarize(xs); d.P50 != 100 || d.P99 != 198 || d.Max != 200 || xs[0] != 200 {
		t.Errorf("Summarize(200..1) = %+v (input now starts %v); want p50 100, p99 198, max 200, input untouched", d, xs[0])
	}
}

func TestNPCsHearTheTimeAsWordsOfTheirLanguage(t *testing.T) {
	for _, tc := range []struct {
		hour   int
		korean bool
		want   string
	}{
		{9, false, "morning"}, {11, false, "morning"}, {12, false, "noon"}, {13, false, "afternoon"},
		{16, false, "afternoon"}, {17, false, "evening"}, {20, false, "evening"},
		{9, true, "아침"}, {12, true, "한낮"}, {15, true, "오후"}, {19, true, "저녁"},
	} {
		if got := timeOfDay(tc.hour, tc.korean); got != tc.want {
			t.Errorf("timeOfDay(%d, korean=%v) = %q, want %q", tc.hour, tc.korean, got, tc.want)
		}
	}
}
