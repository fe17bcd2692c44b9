package server

import (
	"fmt"
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newTokenBucket(10, 3, t0) // 10/s, burst 3
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {0, true}, {0, true}, // the burst
		{0, false},                      // empty
		{50 * time.Millisecond, false},  // half a token
		{100 * time.Millisecond, true},  // one token refilled
		{100 * time.Millisecond, false}, // spent
		{10 * time.Second, true},        // refilled, capped at burst
		{10 * time.Second, true},
		{10 * time.Second, true},
		{10 * time.Second, false},
	}
	for i, s := range steps {
		if got := b.allow(t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: allow(t0+%v) = %v; want %v", i, s.at, got, s.want)
		}
	}
}

func TestErrorWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		limit  int
		window time.Duration
		at     []time.Duration // error times
		want   []bool
	}{
		{1, time.Second, []time.Duration{0}, []bool{true}},
		{3, time.Second, []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}, []bool{false, false, true}},
		// Spread out: never three within a second.
		{3, time.Second, []time.Duration{0, 600 * time.Millisecond, 1200 * time.Millisecond, 1800 * time.Millisecond},
			[]bool{false, false, false, false}},
		// Slow, then a burst.
		{3, time.Second, []time.Duration{0, 5 * time.Second, 5100 * time.Millisecond, 5200 * time.Millisecond},
			[]bool{false, false, false, true}},
	}
	for _, tt := range tests {
		w := newErrorWindow(tt.limit, tt.window)
		var got []bool
		for _, at := range tt.at {
			got = append(got, w.add(t0.Add(at)))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("errorWindow(%d, %v).add(%v) = %v; want %v", tt.limit, tt.window, tt.at, got, tt.want)
		}
	}
}

// item is a queue entry for tests: a name, droppable when it starts with "d".
type item string

func (i item) droppable() bool { return len(i) > 0 && i[0] == 'd' }

func TestOutQueuePolicy(t *testing.T) {
	tests := []struct {
		name    string
		pushes  []item
		want    []item // queue contents afterwards
		dropped []item
		refused []item // non-droppable items push could not queue
	}{
		{"under the limit everything queues",
			[]item{"a1", "d1", "a2"}, []item{"a1", "d1", "a2"}, nil, nil},
		{"full: a new droppable item is dropped",
			[]item{"a1", "a2", "a3", "d1"}, []item{"a1", "a2", "a3"}, []item{"d1"}, nil},
		{"full: a final item evicts the oldest droppable one",
			[]item{"d1", "a1", "d2", "a2"}, []item{"a1", "d2", "a2"}, []item{"d1"}, nil},
		{"full of finals: a final item is refused",
			[]item{"a1", "a2", "a3", "a4"}, []item{"a1", "a2", "a3"}, nil, []item{"a4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newOutQueue(3, item.droppable)
			var dropped, refused []item
			for _, p := range tt.pushes {
				r := q.push(p)
				dropped = append(dropped, r.dropped...)
				if !r.queued && len(r.dropped) == 0 {
					refused = append(refused, p)
				}
			}
			if got := q.take(nil); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("queue after push(%v) = %v; want %v", tt.pushes, got, tt.want)
			}
			if fmt.Sprint(dropped) != fmt.Sprint(tt.dropped) {
				t.Errorf("dropped after push(%v) = %v; want %v", tt.pushes, dropped, tt.dropped)
			}
			if fmt.Sprint(refused) != fmt.Sprint(tt.refused) {
				t.Errorf("refused after push(%v) = %v; want %v", tt.pushes, refused, tt.refused)
			}
		})
	}
}

func TestOutQueueClosedAndForced(t *testing.T) {
	q := newOutQueue(1, item.droppable)
	if !q.push("a1").queued {
		t.Fatal("push(a1) on an empty queue was not queued")
	}
	if !q.pushAll("w", "r1", "r2") {
		t.Fatal("pushAll over the limit failed; replay must bypass the limit")
	}
	if got := q.len(); got != 4 {
		t.Errorf("len() = %d; want 4", got)
	}
	q.close()
	if r := q.push("a2"); r.queued || !r.closed {
		t.Errorf("push after close = %+v; want refused", r)
	}
	if q.pushAll("x") {
		t.Error("pushAll after close succeeded")
	}
}

func TestReplayBuffer(t *testing.T) {
	b := newReplayBuffer[uint64](4)
	for i := 0; i < 6; i++ { // seqs 1..6; 1 and 2 are evicted
		b.add(b.nextSeq())
	}
	tests := []struct {
		last       uint64
		want       []uint64
		wantMissed uint64
	}{
		{0, []uint64{3, 4, 5, 6}, 2},
		{1, []uint64{3, 4, 5, 6}, 1},
		{2, []uint64{3, 4, 5, 6}, 0},
		{4, []uint64{5, 6}, 0},
		{6, nil, 0},
		{99, nil, 0},
	}
	for _, tt := range tests {
		got, missed := b.since(tt.last)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || missed != tt.wantMissed {
			t.Errorf("since(%d) = %v, %d; want %v, %d", tt.last, got, missed, tt.want, tt.wantMissed)
		}
	}
	if got := b.oldest(); got != 3 {
		t.Errorf("oldest() = %d; want 3", got)
	}
}
