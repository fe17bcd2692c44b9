package mind

import (
	"sync"
	"testing"
	"time"
)

// TestThinkQueueServesNewestFirstWhenBehind: in order while it keeps up;
// newest first once its oldest think waited over a second; a think past
// its deadline first of all, to be refused at once.
func TestThinkQueueServesNewestFirstWhenBehind(t *testing.T) {
	now := time.Unix(1000, 0)
	q := newThinkQueue(8, func(*job) time.Duration { return 10 * time.Second }, func() time.Time { return now })
	line := func(name string, at time.Time) *job {
		return &job{prio: PriorityPlayer, requestID: name, at: at}
	}
	pop := func() string {
		j, ok := q.pop(false)
		if !ok {
			t.Fatal("pop: closed")
		}
		return j.requestID
	}
	steps := []struct {
		push []*job
		wait time.Duration // the clock moves before the pops
		want []string
	}{
		{push: []*job{line("a", now), line("b", now), line("c", now)}, wait: 500 * time.Millisecond, want: []string{"a", "b", "c"}},
		{push: []*job{line("d", now), line("e", now), line("f", now)}, wait: 1500 * time.Millisecond, want: []string{"f", "e", "d"}},
		{push: []*job{line("old", now.Add(-8*time.Second)), line("g", now), line("h", now)}, wait: 2500 * time.Millisecond,
			want: []string{"old", "h", "g"}},
	}
	for i, st := range steps {
		for _, j := range st.push {
			if !q.push(j) {
				t.Fatalf("step %d: push refused", i)
			}
		}
		now = now.Add(st.wait)
		for _, w := range st.want {
			if got := pop(); got != w {
				t.Fatalf("step %d: popped %q; want %q (order %v)", i, got, w, st.want)
			}
		}
	}
}

// TestThinkQueuePriorities: players' thinks before ambient ones; a
// reserved worker never takes an ambient one; a full queue refuses; close
// wakes a waiting worker.
func TestThinkQueuePriorities(t *testing.T) {
	now := time.Unix(1000, 0)
	q := newThinkQueue(2, func(*job) time.Duration { return 10 * time.Second }, func() time.Time { return now })
	amb := &job{prio: PriorityAmbient, reason: "idle", at: now}
	ply := &job{prio: PriorityPlayer, requestID: "r1", at: now}
	q.push(amb)
	q.push(ply)
	if j, _ := q.pop(true); j != ply {
		t.Errorf("reserved pop = %+v; want the player's line", j)
	}
	if !q.push(&job{prio: PriorityAmbient, at: now}) || q.push(&job{prio: PriorityAmbient, at: now}) {
		t.Error("an ambient queue of limit 2 holding 1 took 1 and refused the next; want exactly that")
	}
	if j, _ := q.pop(false); j != amb {
		t.Errorf("pop = %+v; want the first ambient think", j)
	}
	q.pop(false)
	var wg sync.WaitGroup
	wg.Add(1)
	// Exits when close wakes it.
	go func() {
		defer wg.Done()
		if j, ok := q.pop(true); ok {
			t.Errorf("reserved pop on a closed queue = %+v; want none", j)
		}
	}()
	q.close()
	wg.Wait()
	if q.push(ply) {
		t.Error("push after close was accepted")
	}
}
