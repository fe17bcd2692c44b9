package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// BenchmarkMinds100NPCs: 100 NPCs (the 12 personas in turn) on one
// connection, each asked one line at once per iteration; it reports
// decisions per second and the time from the line to the NPC's first say
// delta (median and 90th percentile) over all of them. The hundred lines
// arrive together, so the percentiles show the decoder's queue; a CPU
// profile of it is all model kernels. Run it alone:
// go test -run '^$' -bench Minds100 -benchtime 1x ./cmd/anima/
func BenchmarkMinds100NPCs(b *testing.B) {
	const npcs = 100
	ms := startMindServer(b, b.TempDir(), nil)
	c := ms.dial(b)
	personas := ms.minds.Assets().Set.PersonaIDs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	for i := range npcs {
		id := fmt.Sprintf("n%d", i)
		if _, err := c.Spawn(ctx, id, &protocol.Spawn{Persona: personas[i%len(personas)]}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var firsts []time.Duration
	decisions := 0
	for it := range b.N {
		start := time.Now()
		pending := map[string]bool{}
		for i := range npcs {
			id := fmt.Sprintf("n%d", i)
			if err := c.Perceive(ctx, id, scene); err != nil {
				b.Fatal(err)
			}
			rid := fmt.Sprintf("b%d-%d", it, i)
			if err := c.Send(ctx, protocol.NewEnvelope(rid, id, &protocol.PlayerSay{Speaker: "p1", Text: "Good day! What news?"})); err != nil {
				b.Fatal(err)
			}
			pending[rid] = true
		}
		seen := map[string]bool{}
		for len(pending) > 0 {
			select {
			case env := <-c.Events():
				if !pending[env.ID] {
					continue
				}
				switch m := env.Body.(type) {
				case *protocol.Say:
					if !m.Final && !seen[env.ID] {
						seen[env.ID] = true
						firsts = append(firsts, time.Since(start))
					}
				case *protocol.Decision:
					delete(pending, env.ID)
					decisions++
				case *protocol.Error:
					b.Fatalf("%s: %v", env.NPC, m)
				}
			case <-ctx.Done():
				b.Fatalf("%d decisions missing", len(pending))
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(decisions)/b.Elapsed().Seconds(), "decisions/s")
	if len(firsts) > 0 {
		slices.Sort(firsts)
		b.ReportMetric(float64(firsts[len(firsts)/2].Microseconds())/1000, "ms-first-say-p50")
		b.ReportMetric(float64(firsts[len(firsts)*9/10].Microseconds())/1000, "ms-first-say-p90")
		b.ReportMetric(float64(firsts[0].Microseconds())/1000, "ms-first-say-min")
	}
	b.ReportMetric(float64(ms.minds.Counters().TreeOnly), "tree-only")
}
