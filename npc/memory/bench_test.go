package memory

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anima-rt/anima/npc/perception"
)

// full returns a stream at its default cap with varied memories.
func full() *Stream {
	s := New(Config{})
	kinds := []string{perception.Gift, perception.Speech, perception.Appeared, perception.Left, perception.Stole}
	for i := range 300 {
		e := ev(kinds[i%len(kinds)], fmt.Sprint("p", i%7), fmt.Sprint("Name", i%7), time.Duration(i)*time.Minute)
		e.Item, e.Text, e.Addressed = fmt.Sprint("item", i%11), fmt.Sprintf("the bridge and the %d cats of the mill", i%13), i%2 == 0
		s.Observe(e, "en")
	}
	return s
}

// BenchmarkDigest: choosing the [Memory] lines for one prompt from a full
// stream (256 entries).
func BenchmarkDigest(b *testing.B) {
	s := full()
	q := Query{Now: t0.Add(6 * time.Hour), Text: "Have you seen the cats near the mill? I need iron.", Entities: []string{"p1", "p3"}}
	b.ReportAllocs()
	for b.Loop() {
		s.Digest(q, 6)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "digests/s")
}

// BenchmarkObserve: recording events into a full stream, compaction
// included.
func BenchmarkObserve(b *testing.B) {
	s := full()
	e := ev(perception.Gift, "p1", "Aren", 0)
	e.Item = "ore"
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		e.Time = t0.Add(time.Duration(i) * time.Second)
		e.Actor = fmt.Sprint("p", i%9)
		s.Observe(e, "en")
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSave: durable (fsynced) saves of one event's changes, from many
// NPCs at once, as a server saves them; concurrent saves share a commit.
func BenchmarkSave(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), "mem.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.SetParallelism(16)
	var ids atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		name := fmt.Sprint("n", ids.Add(1))
		s := New(Config{})
		i := 0
		for pb.Next() {
			s.Observe(ev(perception.Gift, "p1", "Aren", time.Duration(i)*time.Second), "en")
			if err := st.Save(context.Background(), "w", name, s.TakeChanges()); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "saves/s")
}
