package behavior

import (
	"testing"
	"time"
)

// nodesPerTick measures how many nodes one tick of in visits, on average
// over a second of game time, by tracing.
func nodesPerTick(in *Instance, now time.Time) float64 {
	in.SetTracing(true)
	defer in.SetTracing(false)
	total := 0
	for i := 0; i < 10; i++ {
		now = now.Add(100 * time.Millisecond)
		in.Tick(now)
		total += len(in.AppendTrace(nil))
	}
	return float64(total) / 10
}

// benchTick ticks one instance at 10 Hz of game time and reports ns per
// visited node.
func benchTick(b *testing.B, in *Instance) {
	now := time.Unix(0, 0)
	in.Tick(now)
	nodes := nodesPerTick(in, now)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(100 * time.Millisecond)
		in.Tick(now)
	}
	b.ReportMetric(nodes, "nodes/tick")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nodes, "ns/node")
}

// BenchmarkTick: one tick of the 20-node tree (testdata/bench20.xml) with
// its routine running.
func BenchmarkTick(b *testing.B) {
	g := &countingGame{}
	benchTick(b, newBenchInstance(b, benchTree(b), "npc1", g))
}

// BenchmarkTickRole: one tick of the demo's guard tree (assets/trees, 95
// nodes after expansion), pursuing a follow goal: each tick re-checks the
// goal against all 22 catalog actions.
func BenchmarkTickRole(b *testing.B) {
	lib, _ := loadAssetLibrary(b)
	tree, err := lib.Tree(lib.Main("guard.xml"))
	if err != nil {
		b.Fatal(err)
	}
	g := &countingGame{}
	in := NewInstance(tree, "guard", g, g)
	if err := in.Set("goal", String("follow")); err != nil {
		b.Fatal(err)
	}
	benchTick(b, in)
}

// benchRound ticks n instances once each (one 100 ms period at 10 Hz,
// through a Scheduler's steps on one goroutine) per op, and reports the
// share of one core that takes: ns per round / 100 ms.
func benchRound(b *testing.B, tree *Tree, n int, setup func(*Instance)) {
	g := &countingGame{}
	s := NewScheduler(SchedulerConfig{Rate: 10, Buckets: 10, Workers: 1})
	for i := 0; i < n; i++ {
		in := NewInstance(tree, "npc", g, g)
		setup(in)
		if err := s.Add(in); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Unix(0, 0)
	round := func() {
		for step := 0; step < 10; step++ {
			now = now.Add(10 * time.Millisecond)
			s.Step(now)
		}
	}
	round()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round()
	}
	perRound := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perRound/float64(100*time.Millisecond)*100, "%core@10Hz")
	b.ReportMetric(perRound/float64(n), "ns/npc-tick")
}

// BenchmarkRound10k: 10,000 NPCs running the 20-node tree at 10 Hz.
func BenchmarkRound10k(b *testing.B) {
	tree := benchTree(b)
	benchRound(b, tree, 10_000, func(in *Instance) {
		in.Set("hp", Int(100))
		in.Set("tired", Bool(false))
		in.Set("steps", Int(0))
	})
}

// BenchmarkRound10kRole: 10,000 guards (the demo's tree) at 10 Hz, half of
// them following a goal and half on their routine.
func BenchmarkRound10kRole(b *testing.B) {
	lib, _ := loadAssetLibrary(b)
	tree, err := lib.Tree(lib.Main("guard.xml"))
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	benchRound(b, tree, 10_000, func(in *Instance) {
		if i%2 == 0 {
			in.Set("goal", String("follow"))
		}
		i++
	})
}

// BenchmarkLoad: parsing and compiling the guard tree with actions.xml.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		lib, _ := loadAssetLibrary(b)
		if _, err := lib.Tree(lib.Main("guard.xml")); err != nil {
			b.Fatal(err)
		}
	}
}
