package perception

import (
	"fmt"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// BenchmarkApplyStimulus: one perceive of 32 moving entities and 4 events,
// then the stimulus for a think, per NPC.
func BenchmarkApplyStimulus(b *testing.B) {
	w := New(Config{SelfID: "n0", SelfName: "Brannoc"})
	p := &protocol.Perceive{Time: "morning", Self: protocol.Self{Location: "the forge", Inventory: []string{"hammer", "ore"}}}
	for i := range 32 {
		p.Entities = append(p.Entities, protocol.Entity{ID: fmt.Sprint("e", i), Kind: "npc", Name: fmt.Sprint("N", i)})
	}
	p.Events = []protocol.Event{{Kind: "speech", Source: "e1", Text: "Brannoc, is the sword ready?"},
		{Kind: "give", Source: "e2", Target: "n0", Item: "ore"}, {Kind: "sound", Text: "a bell"}, {Kind: "attack", Source: "e3", Target: "e4"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range p.Entities {
			p.Entities[j].Position = protocol.Vec{X: float64((i + j) % 50), Y: float64(j)}
		}
		now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		w.Apply(now, p)
		w.Stimulus(now)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "perceives/s")
}
