package engine

import (
	"fmt"

	"github.com/dgraph-io/ristretto/v2"
)

// segCache keeps the tokenizations of prompt segments, weighed by the
// bytes they hold, so that the lore and personas every request repeats
// are encoded once. It is a ristretto cache: TinyLFU admission keeps the
// segments that come back (lore, personas, scaffolding) from being pushed
// out by one-off ones (a player's line, a conversation's latest turn), as
// they would be from a plain LRU of the same size; and the bound, in
// bytes, holds however long the segments are.
//
// Writes are applied asynchronously: a segment set and looked up at once
// may miss and be encoded again, which costs time, never correctness.
type segCache struct {
	c      *ristretto.Cache[string, segEntry]
	budget int64
}

// segEntry is one tokenization; the key is the segment's text.
type segEntry struct {
	special bool // encoded with control tokens (Segment.Special)
	ids     []int32
}

// segEntryBytes is what an entry holds besides its tokens: the entry, the
// slice header and the cache's own bookkeeping of an item, about.
const segEntryBytes = 96

func newSegCache(budget int64) (*segCache, error) {
	c, err := ristretto.NewCache(&ristretto.Config[string, segEntry]{
		// Ten counters per entry the budget holds, as ristretto advises,
		// taking a 64-token segment as the typical entry.
		NumCounters:        max(1024, 10*budget/(64*4+segEntryBytes)),
		MaxCost:            budget,
		BufferItems:        64,
		IgnoreInternalCost: true, // segEntryBytes counts it
	})
	if err != nil {
		return nil, fmt.Errorf("token cache: %w", err)
	}
	return &segCache{c: c, budget: budget}, nil
}

func (s *segCache) get(text string, special bool) ([]int32, bool) {
	e, ok := s.c.Get(text)
	if !ok || e.special != special {
		return nil, false // the same text as the other kind of segment: encoded apart
	}
	return e.ids, true
}

// put caches ids, which must not be changed afterwards.
func (s *segCache) put(text string, special bool, ids []int32) {
	s.c.Set(text, segEntry{special, ids}, cost(ids))
}

func cost(ids []int32) int64 { return int64(4*len(ids)) + segEntryBytes }

// used is the cost of the entries held, in bytes.
func (s *segCache) used() int64 { return s.budget - s.c.RemainingCost() }

// close stops the cache's goroutine; get and put then miss.
func (s *segCache) close() { s.c.Close() }
