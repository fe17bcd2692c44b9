package grammar

import (
	"fmt"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"
)

// Cache keeps compiled Grammars by schema text, bounded in bytes. A
// schema compiles in microseconds, but a Grammar's token masks are
// computed lazily and kept (up to MaxMaskCacheBytes), so serving a
// schema's next request with the same Grammar is what saves time. Masks
// grow as generations reach new states, so a count of Grammars bounds
// nothing: each is weighed by the bytes it holds (Cost) and weighed again
// when it has grown, and ristretto's TinyLFU admission keeps the schemas
// used again and again (an NPC's decision schemas) over one-offs. A Cache
// is safe for concurrent use; Close it when done.
type Cache struct {
	vocab    *Vocab
	maxBytes int64
	c        *ristretto.Cache[string, *cached]
}

type cached struct {
	schema string
	g      *Grammar
	cost   atomic.Int64 // what the cache was last told g weighs
}

// NewCache returns a Cache of at most maxBytes of Grammars over v.
func NewCache(v *Vocab, maxBytes int64) (*Cache, error) {
	if v == nil || maxBytes <= 0 {
		return nil, fmt.Errorf("grammar: cache: a vocabulary and a positive size are required")
	}
	c, err := ristretto.NewCache(&ristretto.Config[string, *cached]{
		// Ten counters per Grammar the budget holds at ~20 KiB each (an
		// NPC decision grammar over the embedded model's vocabulary).
		NumCounters:        max(1024, 10*maxBytes/(20<<10)),
		MaxCost:            maxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true, // the schema's and Grammar's bytes are the cost
	})
	if err != nil {
		return nil, fmt.Errorf("grammar: cache: %w", err)
	}
	return &Cache{vocab: v, maxBytes: maxBytes, c: c}, nil
}

// Get returns the Grammar of schema: the one compiled before for the same
// bytes, or a new one.
func (c *Cache) Get(schema []byte) (*Grammar, error) {
	key := string(schema)
	// The schema is compared, not only its hash: another schema's Grammar
	// would let the model write what this one forbids.
	if e, ok := c.c.Get(key); ok && e.schema == key {
		if cost := int64(len(key)) + e.g.Cost(); cost > e.cost.Load() {
			e.cost.Store(cost) // racing callers may both re-weigh it: harmless
			c.c.Set(key, e, cost)
		}
		return e.g, nil
	}
	g, err := Compile(schema, c.vocab)
	if err != nil {
		return nil, err
	}
	e := &cached{schema: key, g: g}
	e.cost.Store(int64(len(key)) + g.Cost())
	c.c.Set(key, e, e.cost.Load()) // may be refused when full of more used Grammars
	return g, nil
}

// Used is the bytes the cache holds, once its pending writes are applied.
func (c *Cache) Used() int64 {
	c.c.Wait()
	return c.maxBytes - c.c.RemainingCost()
}

// Close stops the cache's goroutines.
func (c *Cache) Close() { c.c.Close() }
