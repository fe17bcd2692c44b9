package npc_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/behavior"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/npc/memory"
	"github.com/anima-rt/anima/npc/perception"
	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/npc/salience"
	"github.com/anima-rt/anima/protocol"
)

// Example_mind runs the model-free half of an NPC's mind on one perceive:
// persona and world from the embedded files, the working set, memory and
// salience, up to the prompt the engine would be given.
func Example_mind() {
	// Known trees: the lower-cased main tree of each role file.
	trees := os.DirFS("../assets/trees")
	lib := behavior.NewLibrary(behavior.Options{Include: behavior.IncludeFS(trees)})
	if err := lib.AddFS(trees, "*.xml"); err != nil {
		panic(err)
	}
	names, _ := fs.Glob(trees, "*.xml")
	var known persona.Known
	for _, n := range names {
		if n != "actions.xml" {
			known.Trees = append(known.Trees, strings.ToLower(lib.Main(n)))
		}
	}
	known.Catalog, _ = catalog.Default()
	set, err := persona.LoadFS(assets.Personas(), assets.Worlds(), known)
	if err != nil {
		panic(err)
	}
	p, w := set.Personas["brannoc"], set.Worlds["oakvale"]

	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	places := map[string]string{}
	for _, pl := range w.Places {
		places[strings.ToLower(pl.Name)] = pl.ID
	}
	ws := perception.New(perception.Config{SelfID: "brannoc", SelfName: p.Name, Places: places})
	mem := memory.New(memory.Config{})
	mem.SeedRelations(p.Relationships)
	gate := salience.New(salience.Config{}, func() time.Time { return t0 }, rand.New(rand.NewPCG(1, 1)))

	// Yesterday Aren brought ore; Brannoc thought about it, then remembered.
	yesterday := t0.Add(-24 * time.Hour)
	for _, ev := range ws.Apply(yesterday, &protocol.Perceive{Time: "evening",
		Entities: []protocol.Entity{{ID: "p1", Kind: "player", Name: "Aren", Position: protocol.Vec{X: 12, Y: 4}}},
		Events:   []protocol.Event{{Kind: "give", Source: "p1", Target: "brannoc", Item: "iron ore"}},
	}) {
		mem.Observe(ev, p.Language)
	}
	ws.Stimulus(yesterday)

	// This morning Aren is back and speaks.
	evs := ws.Apply(t0, &protocol.Perceive{Time: "morning",
		Self:     protocol.Self{Position: protocol.Vec{X: 10, Y: 4}, Location: "the Ember Forge", Status: "working at the anvil", Inventory: []string{"hammer", "iron ore"}},
		Entities: []protocol.Entity{{ID: "p1", Kind: "player", Name: "Aren", Position: protocol.Vec{X: 12, Y: 4}}},
	})
	evs = append(evs, ws.Hear(t0, &protocol.PlayerSay{Speaker: "p1", Text: "Can you fix my sword, Brannoc?"}))
	// Several reasons at once are one think: the caller keeps at most one
	// in flight per NPC.
	think := false
	for _, ev := range evs {
		v := gate.Event("brannoc", ev)
		think = think || v.Think
		fmt.Printf("%s %s: %v\n", ev.Kind, ev.Actor, v)
	}
	if !think {
		return
	}
	// The digest is the past: the events shown under [Events] and [Heard]
	// go into memory after the prompt is built.
	now := ws.Stimulus(t0)
	mem.LabelSeen(&now, p.Language)
	prompt := npc.RenderPrompt(npc.PromptInput{
		Lore: w.Prompt(), Persona: p.Prompt(),
		Memory: mem.Digest(memory.QueryFor(t0, now), 4),
		Now:    now,
	})
	for _, ev := range evs {
		mem.Observe(ev, p.Language)
	}
	fmt.Print(prompt.Text(npc.SegMemory), prompt.Text(npc.SegStimulus))
	// Output:
	// time : ignore (not salient)
	// appeared p1: think newcomer
	// speech p1: think addressed
	// [Memory]
	// - Aren arrived.
	// - Aren gave you iron ore.
	// <|im_end|>
	// <|im_start|>user
	// [Time] morning
	// [Self] at l2; working at the anvil; carrying i2 hammer, i1 iron ore
	// [Seen] p1 Aren (player, 2 m)
	// [Heard] p1 Aren: "Can you fix my sword, Brannoc?"
	// <|im_end|>
	// <|im_start|>assistant
}
