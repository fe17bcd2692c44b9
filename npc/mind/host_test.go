package mind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/memory"
	"github.com/anima-rt/anima/npc/salience"
	"github.com/anima-rt/anima/protocol"
)

// scripted is a Generator that writes one fixed decision, streaming its say
// in the given pieces; the decoder itself is tested in inference/ and end
// to end in cmd/anima. hold, when set, is waited on (or ctx) after the
// first piece, so that a test can interrupt mid-utterance.
type scripted struct {
	emotion, action, target string
	pieces                  []string
	hold                    chan struct{}
	err                     error

	mu      sync.Mutex
	reqs    []Request
	running map[string]int // by the prompt's persona segment: thinks at once per NPC
	maxRun  int
}

func (g *scripted) Generate(ctx context.Context, req Request, say func(string)) (Result, error) {
	key := req.Segments.Text(npc.SegPersona) + req.Segments.Text(npc.SegStimulus)[:20]
	g.mu.Lock()
	g.reqs = append(g.reqs, req)
	if g.running == nil {
		g.running = map[string]int{}
	}
	g.running[key]++
	g.maxRun = max(g.maxRun, g.running[key])
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running[key]--
		g.mu.Unlock()
	}()
	if g.err != nil {
		return Result{}, g.err
	}
	head := fmt.Sprintf(`{"emotion":%q,"action":{"name":%q,"target":%q},"say":"`, g.emotion, g.action, g.target)
	text := head
	for i, p := range g.pieces {
		if i == 1 && g.hold != nil {
			select {
			case <-g.hold:
			case <-ctx.Done():
				return Result{Text: text, Stats: Stats{Stopped: true}}, nil
			}
		}
		say(p)
		text += p
	}
	text += `"}`
	return Result{Text: text, Stats: Stats{PromptTokens: 100, ReusedTokens: 90, GeneratedTokens: 20}}, nil
}

func (g *scripted) schemas() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var s []string
	for _, r := range g.reqs {
		s = append(s, string(r.Schema))
	}
	return s
}

// outbox records what an NPC host sends.
type outbox struct {
	mu   sync.Mutex
	msgs []protocol.Envelope
	more chan struct{} // signalled on each Send
}

func newOutbox() *outbox { return &outbox{more: make(chan struct{}, 1)} }

func (o *outbox) Send(npcID, requestID string, m protocol.Message) {
	o.mu.Lock()
	o.msgs = append(o.msgs, protocol.NewEnvelope(requestID, npcID, m))
	o.mu.Unlock()
	select {
	case o.more <- struct{}{}:
	default:
	}
}

// await returns the first message for which ok holds, waiting up to 5 s.
func (o *outbox) await(t *testing.T, what string, ok func(protocol.Envelope) bool) protocol.Envelope {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		o.mu.Lock()
		for _, e := range o.msgs {
			if ok(e) {
				o.mu.Unlock()
				return e
			}
		}
		o.mu.Unlock()
		select {
		case <-o.more:
		case <-deadline:
			t.Fatalf("no %s within 5 s; got %v", what, o.types())
		}
	}
}

func (o *outbox) types() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ts []string
	for _, e := range o.msgs {
		ts = append(ts, e.Type)
	}
	return ts
}

func isType(typ string) func(protocol.Envelope) bool {
	return func(e protocol.Envelope) bool { return e.Type == typ }
}

var testAssets = sync.OnceValues(DefaultAssets)

func newHost(t *testing.T, g Generator, store *memory.Store) *Host {
	t.Helper()
	return newHostWith(t, Config{Generator: g, Store: store, NoAmbient: true, KeepPrompt: true})
}

// newHostWith starts a host on cfg with the default assets and a silent
// logger, closed when the test ends.
func newHostWith(t *testing.T, cfg Config) *Host {
	t.Helper()
	a, err := testAssets()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Assets, cfg.Logger = a, slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

var smith = Ref{Session: "s1", NPC: "smith"}

func spawnSmith(t *testing.T, h *Host, out Outbox) {
	t.Helper()
	if _, err := h.Spawn(smith, &protocol.Spawn{Persona: "brannoc", Actions: []string{"greet", "warn"}}, out); err != nil {
		t.Fatal(err)
	}
	err := h.Perceive(smith, &protocol.Perceive{Entities: []protocol.Entity{
		{ID: "p1", Kind: "player", Position: protocol.Vec{X: 1}},
		{ID: "n2", Kind: "npc", Name: "Pip", Position: protocol.Vec{X: 3}},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// A player's line is answered: say deltas, the final say with the whole
// utterance, the decision; the decision lands on the blackboard and the
// tree carries it out with an act naming the target.
func TestDecisionStreamsLandsAndActs(t *testing.T) {
	g := &scripted{emotion: "happy", action: "greet", target: "p1", pieces: []string{"Well ", "met."}}
	h := newHost(t, g, nil)
	out := newOutbox()
	spawnSmith(t, h, out)
	if err := h.PlayerSay(smith, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "Hello, Brannoc!"}); err != nil {
		t.Fatal(err)
	}
	d := out.await(t, "decision", isType("decision")).Body.(*protocol.Decision)
	if d.Action != "greet" || d.Target != "p1" || d.Say != "Well met." {
		t.Errorf("decision %+v; want greet p1 %q", d, "Well met.")
	}
	final := out.await(t, "final say", func(e protocol.Envelope) bool {
		s, ok := e.Body.(*protocol.Say)
		return ok && s.Final
	}).Body.(*protocol.Say)
	if final.Text != "Well met." || final.UtteranceID != d.UtteranceID {
		t.Errorf("final say %+v; want %q on %q", final, "Well met.", d.UtteranceID)
	}
	act := out.await(t, "act toward p1", func(e protocol.Envelope) bool {
		a, ok := e.Body.(*protocol.Act)
		return ok && a.Args["target"] == "p1"
	}).Body.(*protocol.Act)
	if err := h.ActionStatus(smith, &protocol.ActionStatus{ActionID: act.ActionID, Status: protocol.StatusRunning}); err != nil {
		t.Errorf("ActionStatus(%s, running): %v", act.ActionID, err)
	}
	if err := h.ActionStatus(smith, &protocol.ActionStatus{ActionID: act.ActionID, Status: protocol.StatusSuccess}); err != nil {
		t.Errorf("ActionStatus(%s, success): %v", act.ActionID, err)
	}
	for _, id := range []string{act.ActionID, "a1.999", "a99.1", "x"} {
		err := h.ActionStatus(smith, &protocol.ActionStatus{ActionID: id, Status: protocol.StatusSuccess})
		var perr *protocol.Error
		if !errors.As(err, &perr) || perr.Code != protocol.CodeUnknownAction {
			t.Errorf("ActionStatus(%s, success) of an act ended or never sent = %v; want unknown_action", id, err)
		}
	}
	schema := g.schemas()[0]
	for _, want := range []string{`"target":{"enum":["n2","p1"]}`, `"const":"greet"`, `"const":"warn"`} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema lacks %s:\n%s", want, schema)
		}
	}
	if strings.Contains(schema, `"const":"trade"`) {
		t.Errorf("schema offers trade, which the spawn did not allow:\n%s", schema)
	}
	in, _ := h.Inspect(smith)
	if !strings.Contains(in.Prompt, `[Heard] p1: "Hello, Brannoc!"`) {
		t.Errorf("prompt does not quote what was heard:\n%s", in.Prompt)
	}
}

// A host serving a name-first model renders its prompts name-first: the
// places of the world and the entities in view carry their ids after
// their names, in this turn and in the conversation's earlier turns.
func TestPromptFollowsTheModelsFormat(t *testing.T) {
	g := &scripted{emotion: "happy", action: "greet", target: "p1", pieces: []string{"Well met."}}
	h := newHostWith(t, Config{Generator: g, NoAmbient: true, KeepPrompt: true, PromptFormat: npc.NameFirst})
	out := newOutbox()
	spawnSmith(t, h, out)
	for i, line := range []string{"Hello, Brannoc!", "Who is that?"} {
		if err := h.PlayerSay(smith, fmt.Sprintf("r%d", i), &protocol.PlayerSay{Speaker: "p1", Text: line}); err != nil {
			t.Fatal(err)
		}
		out.await(t, "decision", func(e protocol.Envelope) bool { return e.Type == "decision" && e.ID == fmt.Sprintf("r%d", i) })
	}
	in, _ := h.Inspect(smith)
	if !strings.Contains(in.Prompt, "Pip n2 (npc") {
		t.Errorf("prompt lists Pip id-first:\n%s", in.Prompt)
	}
	if strings.Count(in.Prompt, "Pip n2 (npc") != 2 {
		t.Errorf("want Pip name-first in both turns:\n%s", in.Prompt)
	}
	if strings.Contains(in.Prompt, "n2 Pip") || !regexp.MustCompile(`\[Places\] [^\n]* l1 \(`).MatchString(in.Prompt) {
		t.Errorf("prompt is not name-first throughout:\n%s", in.Prompt)
	}
}

// A host serving a names model shows the model names, offers names as
// targets, and maps the name the model wrote back to the game's id before
// anything acts on it; the conversation's earlier turns keep their names.
func TestNamesModelWritesNamesTheGameGetsIDs(t *testing.T) {
	g := &scripted{emotion: "happy", action: "greet", target: "Pip", pieces: []string{"Hello, Pip."}}
	h := newHostWith(t, Config{Generator: g, NoAmbient: true, KeepPrompt: true, PromptFormat: npc.Names})
	out := newOutbox()
	spawnSmith(t, h, out)
	for i, line := range []string{"Hello, Brannoc!", "Who is that?"} {
		if err := h.PlayerSay(smith, fmt.Sprintf("r%d", i), &protocol.PlayerSay{Speaker: "p1", Text: line}); err != nil {
			t.Fatal(err)
		}
		d := out.await(t, "decision", func(e protocol.Envelope) bool { return e.Type == "decision" && e.ID == fmt.Sprintf("r%d", i) }).Body.(*protocol.Decision)
		if d.Target != "n2" {
			t.Errorf("turn %d: decision target %q; want the game's id n2", i, d.Target)
		}
	}
	out.await(t, "act toward n2", func(e protocol.Envelope) bool {
		a, ok := e.Body.(*protocol.Act)
		return ok && a.Args["target"] == "n2"
	})
	if schema := g.schemas()[0]; !strings.Contains(schema, `"target":{"enum":["Pip","player"]}`) {
		t.Errorf("schema does not offer the names:\n%s", schema)
	}
	in, _ := h.Inspect(smith)
	if got := strings.Count(in.Prompt, `: "Pip"`); got != 2 {
		t.Errorf("want Pip by name in both turns, found %d:\n%s", got, in.Prompt)
	}
	if !strings.Contains(in.Prompt, `"target":"Pip"`) || strings.Contains(in.Prompt, `"n2"`) {
		t.Errorf("the earlier reply should name Pip, and no id should show:\n%s", in.Prompt)
	}
}

// What the NPC did is remembered by name, a place of the world too.
func TestMemoryNamesThePlacePointedTo(t *testing.T) {
	g := &scripted{emotion: "happy", action: "point_to", target: "l1", pieces: []string{"That way."}}
	h := newHost(t, g, nil)
	out := newOutbox()
	if _, err := h.Spawn(smith, &protocol.Spawn{Persona: "brannoc", Actions: []string{"point_to"}}, out); err != nil {
		t.Fatal(err)
	}
	if err := h.PlayerSay(smith, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "Where's the inn?"}); err != nil {
		t.Fatal(err)
	}
	out.await(t, "decision", isType("decision"))
	in, _ := h.Inspect(smith)
	if !anyContains(in.Memories, "point to The Rusty Anchor") {
		t.Errorf("memories %q; want the place pointed to by name", in.Memories)
	}
}

// An interrupt ends the utterance at once with what was said, and memory
// keeps that and no more.
func TestInterruptKeepsWhatWasSaid(t *testing.T) {
	g := &scripted{emotion: "neutral", action: "warn", target: "p1",
		pieces: []string{"Stay back, ", "or I call the watch."}, hold: make(chan struct{})}
	h := newHost(t, g, nil)
	out := newOutbox()
	spawnSmith(t, h, out)
	if err := h.PlayerSay(smith, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "Give me your hammer."}); err != nil {
		t.Fatal(err)
	}
	out.await(t, "first delta", isType("say"))
	if err := h.Interrupt(smith, &protocol.Interrupt{}); err != nil {
		t.Fatal(err)
	}
	final := out.await(t, "final say", func(e protocol.Envelope) bool {
		s, ok := e.Body.(*protocol.Say)
		return ok && s.Final
	}).Body.(*protocol.Say)
	if final.Text != "Stay back, " {
		t.Errorf("final say %q; want what was said, %q", final.Text, "Stay back, ")
	}
	// The think ends (the generator saw its context cancelled); then memory
	// holds the partial line.
	waitFor(t, "interrupted think to end", func() bool {
		in, _ := h.Inspect(smith)
		return anyContains(in.Memories, `"Stay back,"`)
	})
	in, _ := h.Inspect(smith)
	for _, m := range in.Memories {
		if strings.Contains(m, "watch") {
			t.Errorf("memory %q holds words never said", m)
		}
	}
	for _, typ := range out.types() {
		if typ == "decision" {
			t.Error("an interrupted think sent a decision")
		}
	}
}

func anyContains(xs []string, sub string) bool {
	for _, x := range xs {
		if strings.Contains(x, sub) {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// However fast a player talks, an NPC thinks one thought at a time; the
// last line is answered.
func TestOneThinkAtATime(t *testing.T) {
	g := &scripted{emotion: "neutral", action: "greet", target: "p1", pieces: []string{"Hm."}}
	h := newHost(t, g, nil)
	out := newOutbox()
	spawnSmith(t, h, out)
	for i := range 20 {
		if err := h.PlayerSay(smith, fmt.Sprintf("r%d", i), &protocol.PlayerSay{Speaker: "p1", Text: "Hey!"}); err != nil {
			t.Fatal(err)
		}
	}
	out.await(t, "answer to the last line", func(e protocol.Envelope) bool { return e.Type == "decision" && e.ID == "r19" })
	if g.maxRun != 1 {
		t.Errorf("%d thinks ran at once for one NPC; want 1", g.maxRun)
	}
}

// An overloaded generator leaves the NPC to its tree: the player is told,
// and the tree-only counter says so.
func TestOverloadLeavesTheTree(t *testing.T) {
	g := &scripted{err: fmt.Errorf("engine full: %w", ErrOverloaded)}
	h := newHost(t, g, nil)
	out := newOutbox()
	spawnSmith(t, h, out)
	if err := h.PlayerSay(smith, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "Hello?"}); err != nil {
		t.Fatal(err)
	}
	e := out.await(t, "error", isType("error")).Body.(*protocol.Error)
	if e.Code != protocol.CodeOverloaded {
		t.Errorf("error %v; want overloaded", e)
	}
	if c := h.Counters(); c.TreeOnly != 1 {
		t.Errorf("TreeOnly = %d; want 1", c.TreeOnly)
	}
	out.await(t, "the routine's act", isType("act")) // the tree goes on
}

// A respawned id gets its memories back from the store, in this process
// or the next.
func TestRespawnRemembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	store, err := memory.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g := &scripted{emotion: "happy", action: "greet", target: "p1", pieces: []string{"Aren, is it? Welcome."}}
	h := newHost(t, g, store)
	out := newOutbox()
	spawnSmith(t, h, out)
	h.PlayerSay(smith, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "My name is Aren."})
	out.await(t, "decision", isType("decision"))
	h.Despawn(smith)

	h2 := newHost(t, g, store)
	spawnSmith(t, h2, newOutbox())
	in, err := h2.Inspect(smith)
	if err != nil {
		t.Fatal(err)
	}
	if !anyContains(in.Memories, "My name is Aren.") || !anyContains(in.Memories, "Aren, is it?") {
		t.Errorf("respawned memories %q; want what was heard and said", in.Memories)
	}
}

// Bad spawns are refused with the protocol's codes; the host goes on.
func TestSpawnErrors(t *testing.T) {
	h := newHost(t, &scripted{}, nil)
	for _, tc := range []struct {
		spec protocol.Spawn
		code protocol.Code
	}{
		{protocol.Spawn{Persona: "nobody"}, protocol.CodeUnknownPersona},
		{protocol.Spawn{Persona: "brannoc", Tree: "dragon"}, protocol.CodeUnknownPersona},
		{protocol.Spawn{Persona: "brannoc", Actions: []string{"fly"}}, protocol.CodeBadField},
		{protocol.Spawn{Persona: "brannoc", Blackboard: protocol.Args{"goal": []any{1}}}, protocol.CodeBadField},
	} {
		_, err := h.Spawn(Ref{"s", "x"}, &tc.spec, newOutbox())
		var perr *protocol.Error
		if !errors.As(err, &perr) || perr.Code != tc.code {
			t.Errorf("Spawn(%+v) = %v; want code %s", tc.spec, err, tc.code)
		}
	}
}

// Cutting earlier replies into their generated pieces changes the
// segments, never the prompt's text; a reply whose pieces disagree with it
// stays whole.
func TestSegmentsKeepThePromptText(t *testing.T) {
	d1 := npc.Decision{Emotion: "happy", Action: npc.Intent{Name: "greet", Target: "p1"}, Say: "Well met."}
	d2 := npc.Decision{Emotion: "wary", Action: npc.Intent{Name: "idle"}, Say: "Hm."}
	in := npc.PromptInput{
		Lore: npc.Lore{Name: "Oakvale", Text: "A river town."}, Persona: npc.Persona{Name: "Brannoc"},
		Memory: []string{"Aren gave you ore."},
		History: []npc.Turn{
			{Stimulus: npc.Stimulus{Heard: []npc.Utterance{{From: "p1", Text: "Hello"}}}, Reply: d1},
			{Stimulus: npc.Stimulus{Heard: []npc.Utterance{{From: "p1", Text: "Bye"}}}, Reply: d2},
		},
		Now: npc.Stimulus{Heard: []npc.Utterance{{From: "p1", Text: "Wait!"}}},
	}
	pieces := [][]string{
		{`{"emotion":"`, "happy", `","action":{"name":"`, "greet", `","target":"`, "p1", `"},"say":"`, "Well", " met", ".", `"}`},
		{"not", "it"},
	}
	segs := segments(in, pieces)
	if got, want := segs.String(), npc.RenderPrompt(in).String(); got != want {
		t.Fatalf("segments text differs from the rendered prompt:\n%s\nwant:\n%s", got, want)
	}
	var texts []string
	for _, s := range segs {
		texts = append(texts, s.Text)
	}
	if !containsSeq(texts, " met") || !containsSeq(texts, d2.JSON()) {
		t.Errorf("segments %q; want turn 1's reply in its pieces and turn 2's whole", texts)
	}
}

func containsSeq(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// gated answers player requests at once and holds ambient ones until
// release is closed (or their context ends).
type gated struct {
	release chan struct{}
	ambient atomic.Int32 // ambient requests started
}

func (g *gated) Generate(ctx context.Context, req Request, say func(string)) (Result, error) {
	if req.Priority < PriorityPlayer {
		g.ambient.Add(1)
		select {
		case <-g.release:
		case <-ctx.Done():
			return Result{Stats: Stats{Stopped: true}}, nil
		}
	}
	say("Aye.")
	return Result{Text: `{"emotion":"neutral","action":{"name":"greet","target":"p1"},"say":"Aye."}`}, nil
}

// Ambient thinking (a newcomer seen, the tree's idle re-plan) runs on the
// shared workers; a player's line is answered on the reserved one even
// while every other worker is busy with ambient thoughts.
func TestPlayerOutranksAmbient(t *testing.T) {
	a, err := testAssets()
	if err != nil {
		t.Fatal(err)
	}
	g := &gated{release: make(chan struct{})}
	defer close(g.release)
	h, err := New(Config{Generator: g, Assets: a, Workers: 2, Reserve: 1,
		Salience: salience.Config{Rate: 100, Burst: 100, IdleEvery: 50 * time.Millisecond},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	out := newOutbox()
	for i := range 3 {
		ref := Ref{"s", fmt.Sprintf("n%d", i)}
		if _, err := h.Spawn(ref, &protocol.Spawn{Persona: "brannoc", Actions: []string{"greet", "warn"}}, out); err != nil {
			t.Fatal(err)
		}
		// A player appearing is worth an ambient thought.
		if err := h.Perceive(ref, &protocol.Perceive{Entities: []protocol.Entity{{ID: "p1", Kind: "player"}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "an ambient think to hold the shared worker", func() bool { return g.ambient.Load() >= 1 })
	if err := h.PlayerSay(Ref{"s", "n2"}, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "Hello?"}); err != nil {
		t.Fatal(err)
	}
	out.await(t, "the player's answer", func(e protocol.Envelope) bool { return e.Type == "decision" && e.ID == "r1" })
	if n := g.ambient.Load(); n != 1 {
		t.Errorf("%d ambient thinks started; want 1 (the one worker that takes them is held)", n)
	}
	if c := h.Counters(); c.Gate.Thinks[salience.Newcomer] == 0 {
		t.Errorf("gate counters %+v; want newcomer thinks", c.Gate)
	}
}

// tooLong refuses any prompt that carries a conversation, as a small
// context would.
type tooLong struct{ scripted }

func (g *tooLong) Generate(ctx context.Context, req Request, say func(string)) (Result, error) {
	for _, s := range req.Segments {
		if s.Name == npc.SegHistory && s.Text != "" {
			return Result{}, fmt.Errorf("context of 16: %w", ErrTooLong)
		}
	}
	return g.scripted.Generate(ctx, req, say)
}

// A prompt too long for the generator's context is retried without the
// conversation so far; the NPC still answers.
func TestTooLongDropsTheConversation(t *testing.T) {
	g := &tooLong{scripted{emotion: "neutral", action: "greet", target: "p1", pieces: []string{"Aye."}}}
	h := newHost(t, g, nil)
	out := newOutbox()
	spawnSmith(t, h, out)
	for _, id := range []string{"r1", "r2"} {
		if err := h.PlayerSay(smith, id, &protocol.PlayerSay{Speaker: "p1", Text: "Again?"}); err != nil {
			t.Fatal(err)
		}
		out.await(t, "answer to "+id, func(e protocol.Envelope) bool { return e.Type == "decision" && e.ID == id })
	}
	if in, _ := h.Inspect(smith); in.Turns != 1 || strings.Contains(in.Prompt, "Aye.") {
		t.Errorf("after a too-long retry: %d turns, prompt:\n%s\nwant one turn and no earlier reply", in.Turns, in.Prompt)
	}
	if c := h.Counters(); c.Decisions != 2 || c.Errors != 0 {
		t.Errorf("counters %+v; want 2 decisions, no errors", c)
	}
}

// A session's world message is the lore its NPCs think in from then on;
// an inline character needs no persona file.
func TestWorldAndInlineCharacter(t *testing.T) {
	g := &scripted{emotion: "neutral", action: "greet", target: "p1", pieces: []string{"Hm."}}
	h := newHost(t, g, nil)
	if err := h.World("s1", &protocol.World{Lore: "Frostmere is a town of ice fishers on a frozen lake."}); err != nil {
		t.Fatal(err)
	}
	if err := h.World("s1", &protocol.World{Lore: ""}); err == nil {
		t.Error("World with empty lore: no error")
	}
	out := newOutbox()
	ref := Ref{"s1", "ola"}
	sp, err := h.Spawn(ref, &protocol.Spawn{Character: &protocol.Character{Name: "Ola", Role: "ice fisher", Style: "slow, few words"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Tree != "wanderer" || len(sp.Actions) == 0 {
		t.Errorf("spawned %+v; want the default tree and the catalog's actions", sp)
	}
	h.Perceive(ref, &protocol.Perceive{Entities: []protocol.Entity{{ID: "p1", Kind: "player"}}})
	if err := h.PlayerSay(ref, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "Cold today?"}); err != nil {
		t.Fatal(err)
	}
	out.await(t, "decision", isType("decision"))
	in, _ := h.Inspect(ref)
	for _, want := range []string{"[World] Frostmere is a town of ice fishers", "[You] Ola (ice fisher)", "Speech: slow, few words"} {
		if !strings.Contains(in.Prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, in.Prompt)
		}
	}
}

// A player's line always gets an answer: when the decision is invalid or
// ends out of time with nothing said, an error names why, echoing the
// line's request id, so the client never waits for a reply that will not
// come.
func TestPlayerLineWithNothingSaidGetsAnError(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  Generator
		code protocol.Code
	}{
		{"invalid decision", &scripted{emotion: "no-such-emotion", action: "greet", target: "p1"}, protocol.CodeInternal},
		{"out of time", stopped{}, protocol.CodeOverloaded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t, tc.gen, nil)
			out := newOutbox()
			spawnSmith(t, h, out)
			if err := h.PlayerSay(smith, "r7", &protocol.PlayerSay{Speaker: "p1", Text: "Hello?"}); err != nil {
				t.Fatal(err)
			}
			e := out.await(t, "error", isType("error"))
			if e.ID != "r7" {
				t.Errorf("error answers request %q; want r7", e.ID)
			}
			if got := e.Body.(*protocol.Error).Code; got != tc.code {
				t.Errorf("error code %q; want %q", got, tc.code)
			}
		})
	}
}

// stopped is a Generator whose every think runs out of time before a word.
type stopped struct{}

func (stopped) Generate(ctx context.Context, req Request, say func(string)) (Result, error) {
	return Result{Text: `{"emotion":"`, Stats: Stats{Stopped: true}}, nil
}

// Spawn takes free-form JSON blackboard values (PROTOCOL.md): lists and
// objects are kept as their JSON text rather than refused.
func TestSpawnTakesListBlackboardValues(t *testing.T) {
	h := newHost(t, &scripted{emotion: "calm", action: "greet", target: "p1"}, nil)
	spec := &protocol.Spawn{Persona: "brannoc", Blackboard: map[string]any{"inventory": []any{"hammer", "tongs"}, "home": "l2"}}
	if _, err := h.Spawn(smith, spec, newOutbox()); err != nil {
		t.Fatalf("spawn with a list on the blackboard: %v", err)
	}
}

// talker is a Generator for two NPCs that greet each other: whoever thinks
// names the other as its target and says a numbered line.
type talker struct {
	mu    sync.Mutex
	lines int
	heard []string // each prompt's stimulus
}

func (g *talker) Generate(ctx context.Context, req Request, say func(string)) (Result, error) {
	g.mu.Lock()
	g.lines++
	n := g.lines
	g.heard = append(g.heard, req.Segments.Text(npc.SegStimulus))
	g.mu.Unlock()
	target := "pip"
	if strings.Contains(req.Segments.Text(npc.SegPersona), "Pip") {
		target = "smith"
	}
	line := fmt.Sprintf("line %d", n)
	say(line)
	return Result{Text: fmt.Sprintf(`{"emotion":"happy","action":{"name":"greet","target":%q},"say":%q}`, target, line)}, nil
}

// NPCs near each other talk: a line addressed to another NPC of the session
// is heard by it, which answers, and so on — for MaxChatLines lines, two
// each by default, then the conversation rests.
func TestNPCsTalkToEachOtherBriefly(t *testing.T) {
	g := &talker{}
	h := newHost(t, g, nil)
	out := newOutbox()
	smithSees := &protocol.Perceive{Entities: []protocol.Entity{
		{ID: "p1", Kind: "player", Position: protocol.Vec{X: 1}},
		{ID: "pip", Kind: "npc", Name: "Pip", Position: protocol.Vec{X: 2}},
	}}
	pip := Ref{Session: "s1", NPC: "pip"}
	if _, err := h.Spawn(smith, &protocol.Spawn{Persona: "brannoc", Actions: []string{"greet"}}, out); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Spawn(pip, &protocol.Spawn{Persona: "pip", Actions: []string{"greet"}}, out); err != nil {
		t.Fatal(err)
	}
	if err := h.Perceive(smith, smithSees); err != nil {
		t.Fatal(err)
	}
	if err := h.Perceive(pip, &protocol.Perceive{Entities: []protocol.Entity{
		{ID: "smith", Kind: "npc", Name: "Brannoc", Position: protocol.Vec{X: 1}}}}); err != nil {
		t.Fatal(err)
	}
	// A player speaks to the smith, who turns to Pip: the opening line.
	if err := h.PlayerSay(smith, "r1", &protocol.PlayerSay{Speaker: "p1", Text: "Say hello to Pip!"}); err != nil {
		t.Fatal(err)
	}
	// 1 answer to the player (addressed to Pip), then 3 more lines.
	deadline := time.Now().Add(5 * time.Second)
	for h.Counters().ChatCut == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // nothing more may follow
	c := h.Counters()
	if c.ChatLines != 4 || c.ChatCut != 1 {
		t.Errorf("chat lines %d, cut %d; want 4 delivered and the 5th cut", c.ChatLines, c.ChatCut)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lines != 5 {
		t.Fatalf("%d thinks; want 5 (the player's line, then 4 NPC lines heard)", g.lines)
	}
	// Pip's first think heard the smith's opening line, quoted as speech.
	if !strings.Contains(g.heard[1], `Brannoc: "line 1"`) {
		t.Errorf("Pip's stimulus %q does not quote the smith's line", g.heard[1])
	}
}

// A player's line that waited past PlayerDeadline for a free worker is not
// answered late: the player gets overloaded at once, naming the wait, and
// the tree goes on.
func TestPlayerLineTooLateGetsOverloaded(t *testing.T) {
	g := &scripted{emotion: "calm", action: "greet", target: "p1", pieces: []string{"Hi."}}
	h := newHostWith(t, Config{Generator: g, NoAmbient: true, PlayerDeadline: time.Nanosecond})
	out := newOutbox()
	spawnSmith(t, h, out)
	if err := h.PlayerSay(smith, "r9", &protocol.PlayerSay{Speaker: "p1", Text: "Hello?"}); err != nil {
		t.Fatal(err)
	}
	e := out.await(t, "error", isType("error"))
	if pe := e.Body.(*protocol.Error); e.ID != "r9" || pe.Code != protocol.CodeOverloaded || !strings.Contains(pe.Message, "in time") {
		t.Errorf("got %s %+v; want overloaded for r9, too late", e.ID, pe)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.reqs) != 0 {
		t.Errorf("the generator ran %d times for a line already too late", len(g.reqs))
	}
}
