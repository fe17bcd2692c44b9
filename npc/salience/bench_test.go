package salience

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anima-rt/anima/npc/perception"
)

// BenchmarkDecide: one gate deciding for 1,000 NPCs (idle checks and
// events), as the tree ticks ask it.
func BenchmarkDecide(b *testing.B) {
	now := t0
	g := New(Config{}, func() time.Time { return now }, rand.New(rand.NewPCG(1, 2)))
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint("n", i)
	}
	ev := perception.Event{Kind: perception.Appeared, ActorKind: "player"}
	i := 0
	for b.Loop() {
		now = t0.Add(time.Duration(i) * time.Millisecond)
		id := ids[i%len(ids)]
		if i%2 == 0 {
			g.Idle(id)
		} else {
			g.Event(id, ev)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
