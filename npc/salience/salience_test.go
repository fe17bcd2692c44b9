package salience

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anima-rt/anima/npc/perception"
)

func TestClassify(t *testing.T) {
	g := New(Config{}, func() time.Time { return t0 }, rand.New(rand.NewPCG(1, 1)))
	tests := []struct {
		ev   perception.Event
		want Reason
	}{
		{perception.Event{Kind: perception.Speech, Addressed: true}, Addressed},
		{perception.Event{Kind: perception.Speech}, None},
		{perception.Event{Kind: perception.Speech, Addressed: true, ActorKind: "player"}, Addressed},
		{perception.Event{Kind: perception.Speech, Addressed: true, ActorKind: "npc"}, Chat},
		{perception.Event{Kind: perception.Attacked, Target: "p2"}, Attacked},
		{perception.Event{Kind: perception.Stole}, Stole},
		{perception.Event{Kind: perception.Gift}, Gift},
		{perception.Event{Kind: perception.Gift, Target: "p2"}, None},
		{perception.Event{Kind: perception.Appeared, ActorKind: "player"}, Newcomer},
		{perception.Event{Kind: perception.Appeared, ActorKind: "item"}, None},
		{perception.Event{Kind: perception.Left, ActorKind: "player"}, None},
		{perception.Event{Kind: perception.TimeOfDay}, None},
		{perception.Event{Kind: "dance"}, None},
	}
	for _, tt := range tests {
		if got := g.Classify(tt.ev); got != tt.want {
			t.Errorf("Classify(%+v) = %v; want %v", tt.ev, got, tt.want)
		}
	}
}

// TestPlayersNeverStarve: a crowd of NPCs asking to think idly and about
// newcomers every 100 ms for a minute never stops a player's line from
// being thought about, and ambient thinking stays within the budget.
func TestPlayersNeverStarve(t *testing.T) {
	now := t0
	g := New(Config{Rate: 2, Burst: 4}, func() time.Time { return now }, rand.New(rand.NewPCG(3, 4)))
	ambient := 0
	for step := range 600 {
		now = t0.Add(time.Duration(step) * 100 * time.Millisecond)
		for n := range 100 {
			id := fmt.Sprint("n", n)
			if g.Idle(id).Think {
				ambient++
			}
			if g.Event(id, perception.Event{Kind: perception.Appeared, ActorKind: "player"}).Think {
				ambient++
			}
		}
		if step%10 == 0 {
			if v := g.Event("n7", perception.Event{Kind: perception.Speech, Addressed: true}); !v.Think {
				t.Fatalf("step %d: player line refused: %v", step, v)
			}
		}
	}
	// 60 s at 2/s plus the burst, less what the player took.
	if maxAmbient := 2*60 + 4; ambient > maxAmbient {
		t.Errorf("%d ambient thinks in 60 s; want at most %d", ambient, maxAmbient)
	}
	if ambient < 60 {
		t.Errorf("%d ambient thinks in 60 s; the budget should allow about 100", ambient)
	}
}

// TestConcurrent: one gate shared by many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	g := New(Config{}, clock, rand.New(rand.NewPCG(5, 6)))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() { // exits after its 200 calls
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprint("n", w, i%5)
				g.Idle(id)
				g.Event(id, perception.Event{Kind: perception.Attacked})
				if i%50 == 0 {
					g.Overloaded()
					g.Forget(id)
				}
				mu.Lock()
				now = now.Add(time.Millisecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	c := g.Counters()
	total := c.Cooldown + c.Budget + c.Overload
	for _, n := range c.Thinks {
		total += n
	}
	if total == 0 {
		t.Error("no decisions counted")
	}
}
