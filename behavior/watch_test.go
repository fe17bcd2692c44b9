package behavior

import (
	"strings"
	"testing"
	"time"
)

// pathGame records the acts a tree sends, for a test to resolve them.
type pathGame struct{ ids []uint64 }

func (g *pathGame) Act(npc string, id uint64, name string, args []Arg) { g.ids = append(g.ids, id) }
func (g *pathGame) Cancel(string, uint64, string)                      {}
func (g *pathGame) Think(string, string)                               {}

// A watched instance reports its active path after its first tick, then
// only when the path changes: when the routine moves from one leaf to the
// next, when a decision pre-empts the routine, and when it is halted.
func TestWatchActiveReportsChanges(t *testing.T) {
	lib, _ := loadAssetLibrary(t)
	tree, err := lib.Tree(lib.Main("child.xml"))
	if err != nil {
		t.Fatal(err)
	}
	g := &pathGame{}
	in := NewInstance(tree, "pip", g, g)
	var heard []string
	in.WatchActive(func(active []int) {
		labels := make([]string, len(active))
		for i, n := range active {
			labels[i] = tree.Node(n).Label()
		}
		heard = append(heard, strings.Join(labels, " > "))
	})
	now := time.Unix(0, 0)
	tick := func() {
		now = now.Add(100 * time.Millisecond)
		in.Tick(now)
	}
	tick()
	tick() // the same path: nothing new
	const routine = "ReactiveSequence > ReactiveFallback > SubTree Child_routine > Sequence > "
	want := []string{routine + "Wander"}
	if strings.Join(heard, "\n") != strings.Join(want, "\n") {
		t.Fatalf("heard\n%s\nwant\n%s", strings.Join(heard, "\n"), strings.Join(want, "\n"))
	}
	in.Resolve(g.ids[len(g.ids)-1], true)
	tick()
	if err := in.Set("goal", String("follow")); err != nil {
		t.Fatal(err)
	}
	if err := in.Set("target", String("p1")); err != nil {
		t.Fatal(err)
	}
	tick()
	tick()
	in.Halt("despawn")
	want = append(want, routine+"Wait",
		"ReactiveSequence > ReactiveFallback > ForceFailure > SubTree Pursue > ReactiveFallback > SubTree Action_follow > Follow",
		"")
	if strings.Join(heard, "\n") != strings.Join(want, "\n") {
		t.Errorf("heard\n%s\nwant\n%s", strings.Join(heard, "\n"), strings.Join(want, "\n"))
	}

	in.WatchActive(nil)
	tick()
	if len(heard) != len(want) {
		t.Errorf("heard %q after WatchActive(nil); want nothing more", heard[len(want):])
	}
}

// Watching costs a scan of the statuses per tick, but no allocation once
// the path's storage has grown.
func TestWatchedTickAllocatesNothing(t *testing.T) {
	tree := benchTree(t)
	in := newBenchInstance(t, tree, "npc1", &countingGame{})
	changes := 0
	in.WatchActive(func([]int) { changes++ })
	now := time.Unix(0, 0)
	for range 50 {
		now = now.Add(100 * time.Millisecond)
		in.Tick(now)
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(100 * time.Millisecond)
		in.Tick(now)
	}); allocs != 0 {
		t.Errorf("a watched Tick allocates %v times per run; want 0", allocs)
	}
	if changes < 2 {
		t.Errorf("%d path changes over 100 s; want the routine's path to change", changes)
	}
}

// BenchmarkTickRoleWatched is BenchmarkTickRole with the active path
// watched, as the server does for an NPC spawned with tree_path: the
// difference is what a designer's view of one NPC costs per tick.
func BenchmarkTickRoleWatched(b *testing.B) {
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
	in.WatchActive(func([]int) {})
	benchTick(b, in)
}
