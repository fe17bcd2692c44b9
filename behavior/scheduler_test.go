package behavior

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// countingGame counts acts and thoughts; safe for concurrent use, as an
// Actuator shared by a scheduler's workers must be.
type countingGame struct {
	mu           sync.Mutex
	acts, thinks int
	lastID       map[string]uint64
}

func (g *countingGame) Act(npc string, id uint64, name string, args []Arg) {
	g.mu.Lock()
	g.acts++
	if g.lastID != nil {
		g.lastID[npc] = id
	}
	g.mu.Unlock()
}
func (g *countingGame) Cancel(npc string, id uint64, reason string) {}
func (g *countingGame) Think(npc string, reason string) {
	g.mu.Lock()
	g.thinks++
	g.mu.Unlock()
}

func benchTree(t testing.TB) *Tree {
	t.Helper()
	data, err := os.ReadFile("testdata/bench20.xml")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := Load("bench20.xml", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tree.Len() != 20 {
		t.Fatalf("bench20.xml has %d nodes; want 20", tree.Len())
	}
	return tree
}

func newBenchInstance(t testing.TB, tree *Tree, npc string, g *countingGame) *Instance {
	in := NewInstance(tree, npc, g, g)
	for k, v := range map[string]Value{"hp": Int(100), "tired": Bool(false), "steps": Int(0)} {
		if err := in.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// TestSchedulerSpreadsTicks: each step ticks one bucket; over one period
// every instance is ticked exactly once, and buckets differ by at most one.
func TestSchedulerSpreadsTicks(t *testing.T) {
	tree := benchTree(t)
	g := &countingGame{}
	s := NewScheduler(SchedulerConfig{Rate: 10, Buckets: 4, Workers: 1})
	var all []*Instance
	for i := 0; i < 10; i++ {
		in := newBenchInstance(t, tree, "npc", g)
		if err := s.Add(in); err != nil {
			t.Fatal(err)
		}
		all = append(all, in)
	}
	if err := s.Add(all[0]); err != ErrScheduled {
		t.Errorf("Add(twice) = %v; want ErrScheduled", err)
	}
	if got, want := s.Interval(), 25*time.Millisecond; got != want {
		t.Errorf("Interval() = %v; want %v", got, want)
	}
	now := time.Unix(0, 0)
	var sizes []int
	for step := 0; step < 4; step++ {
		before := s.Ticks()
		s.Step(now)
		sizes = append(sizes, int(s.Ticks()-before))
		now = now.Add(s.Interval())
	}
	if want := []int{3, 3, 2, 2}; !equalInts(sizes, want) {
		t.Errorf("ticks per step = %v; want %v", sizes, want)
	}
	if got := s.Ticks(); got != 10 {
		t.Errorf("Ticks() after one period = %d; want 10", got)
	}
	// Removing keeps the others scheduled; the removed one is ticked no more.
	s.Remove(all[3])
	s.Remove(all[3])
	if got := s.Len(); got != 9 {
		t.Errorf("Len() after Remove = %d; want 9", got)
	}
	st := all[3].AppendStatuses(nil)
	for step := 0; step < 4; step++ {
		s.Step(now)
	}
	if got := s.Ticks(); got != 19 {
		t.Errorf("Ticks() after two periods = %d; want 19", got)
	}
	if got := all[3].AppendStatuses(nil); !equalStatuses(got, st) {
		t.Errorf("removed instance changed: %v -> %v", st, got)
	}
	if err := s.Add(all[3]); err != nil {
		t.Errorf("Add(after Remove) = %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalStatuses(a, b []Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSchedulerRun: Run ticks a bucket per value from its clock channel on
// its workers, while the game resolves acts from another goroutine, and
// returns when its context is cancelled.
func TestSchedulerRun(t *testing.T) {
	tree := benchTree(t)
	g := &countingGame{lastID: map[string]uint64{}}
	s := NewScheduler(SchedulerConfig{Rate: 10, Buckets: 2, Workers: 3})
	var all []*Instance
	for i := 0; i < 50; i++ {
		in := newBenchInstance(t, tree, string(rune('A'+i)), g)
		if err := s.Add(in); err != nil {
			t.Fatal(err)
		}
		all = append(all, in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	done := make(chan error)
	go func() { done <- s.Run(ctx, ticks) }() // exits when ctx is cancelled
	now := time.Unix(0, 0)
	for step := 0; step < 20; step++ {
		ticks <- now
		now = now.Add(50 * time.Millisecond)
		// The game answers from its own goroutine while workers tick.
		for _, in := range all {
			g.mu.Lock()
			id := g.lastID[in.NPC()]
			g.mu.Unlock()
			in.Resolve(id, true)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run() = %v; want context.Canceled", err)
	}
	// A closed clock ends Run too.
	go func() { done <- s.Run(context.Background(), ticks) }() // exits when ticks is closed
	ticks <- now
	close(ticks)
	if err := <-done; err != nil {
		t.Errorf("Run(closed clock) = %v; want nil", err)
	}
	// 21 steps over 2 buckets: every instance ticked 10 times, half 11.
	if got := s.Ticks(); got != 525 {
		t.Errorf("Ticks() = %d; want 525", got)
	}
	if g.thinks != 50 {
		t.Errorf("thinks = %d; want 50 (one each, then the 5 s cooldown)", g.thinks)
	}
}

// TestSchedulerRunLag: Run tells Lag how late each step that ticked
// anything finished: from the tick's time, or from one period after its
// bucket's previous tick when ticks were dropped in between, to the clock
// when its last tick returned. Empty buckets report nothing (a lag sent for
// one would be read in place of the next step's).
func TestSchedulerRunLag(t *testing.T) {
	tree := benchTree(t)
	g := &countingGame{}
	var mu sync.Mutex // guards clock
	clock := time.Unix(0, 0)
	lags := make(chan time.Duration)
	// 100 ms a period, 25 ms a step; the two instances fill buckets 0 and 1.
	s := NewScheduler(SchedulerConfig{Rate: 10, Buckets: 4, Workers: 1,
		Lag: func(d time.Duration) { lags <- d },
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	for _, id := range []string{"a", "b"} {
		if err := s.Add(newBenchInstance(t, tree, id, g)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticks := make(chan time.Time)
	go s.Run(ctx, ticks) // exits when ctx is cancelled
	ms := func(n int) time.Time { return time.Unix(0, 0).Add(time.Duration(n) * time.Millisecond) }
	for _, step := range []struct {
		tick, end int // ms
		lag       time.Duration
		empty     bool
	}{
		{tick: 0, end: 1, lag: time.Millisecond}, // bucket 0's first step
		{tick: 25, end: 25, lag: 0},              // bucket 1's, on time
		{tick: 50, empty: true},
		{tick: 75, empty: true},
		{tick: 100, end: 103, lag: 3 * time.Millisecond},   // due at 0 + 100
		{tick: 225, end: 226, lag: 101 * time.Millisecond}, // due at 25 + 100: four ticks were dropped
	} {
		mu.Lock()
		clock = ms(step.end)
		mu.Unlock()
		ticks <- ms(step.tick)
		if step.empty {
			continue
		}
		if got := <-lags; got != step.lag {
			t.Errorf("step ticked at %d ms, done at %d ms: lag %v; want %v", step.tick, step.end, got, step.lag)
		}
	}
}

// TestTickAllocatesNothing: in steady state (a running routine, thinking and
// acting now and then) ticking an instance, and a scheduler step, allocate
// nothing.
func TestTickAllocatesNothing(t *testing.T) {
	tree := benchTree(t)
	g := &countingGame{}
	in := newBenchInstance(t, tree, "npc1", g)
	now := time.Unix(0, 0)
	in.Tick(now)
	if allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(100 * time.Millisecond)
		in.Tick(now)
	}); allocs != 0 {
		t.Errorf("Tick allocates %v times per run; want 0", allocs)
	}
	if g.acts < 2 || g.thinks < 2 {
		t.Errorf("acts %d, thinks %d over 100 s; want the routine to act and think again", g.acts, g.thinks)
	}

	lib, _ := loadAssetLibrary(t)
	role, err := lib.Tree(lib.Main("guard.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewScheduler(SchedulerConfig{Buckets: 2, Workers: 1})
	for i := 0; i < 20; i++ {
		ri := NewInstance(role, "guard", g, g)
		if err := ri.Set("goal", String("follow")); err != nil {
			t.Fatal(err)
		}
		if err := s.Add(ri); err != nil {
			t.Fatal(err)
		}
	}
	s.Step(now)
	if allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(50 * time.Millisecond)
		s.Step(now)
	}); allocs != 0 {
		t.Errorf("Scheduler.Step allocates %v times per run; want 0", allocs)
	}
}
