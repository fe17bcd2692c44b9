package kvcache_test

import (
	"fmt"

	"github.com/anima-rt/anima/inference/kvcache"
)

// A scheduler's view of two NPCs whose prompts share the world's lore: the
// second reuses the first's blocks and computes only its own tokens.
func Example() {
	c, err := kvcache.New(kvcache.Config{Layers: 2, KVHeads: 2, HeadDim: 8, BlockTokens: 4, Budget: 64 << 10})
	if err != nil {
		panic(err)
	}
	lore := []int32{10, 11, 12, 13, 14, 15, 16, 17}
	run := func(s *kvcache.Seq, prompt []int32) {
		n := c.Start(s, prompt) // acquire the cached prefix
		rest := prompt[n:]
		if err := c.Grow(s, len(rest)); err != nil { // errors.Is(err, kvcache.ErrOutOfBlocks): back off
			panic(err)
		}
		k := make([]float32, len(rest)*2*8) // the forward pass's keys and values, (n, KVHeads·HeadDim)
		for l := range 2 {
			if err := s.Store(l, n, k, k); err != nil {
				panic(err)
			}
		}
		if err := c.Advance(s, rest); err != nil { // publishes the completed blocks
			panic(err)
		}
		fmt.Printf("reused %d, computed %d, blocks %v\n", n, len(rest), s.Blocks())
	}
	a, b := c.NewSeq(), c.NewSeq()
	run(a, append(lore, 1, 2, 3))
	run(b, append(lore, 7, 8))
	c.Release(a)
	c.Release(b)
	st := c.Stats()
	fmt.Printf("hit rate %.2f, %d idle blocks cached, %d bytes\n", st.HitRate(), st.Idle, st.Bytes)
	// Output:
	// reused 0, computed 11, blocks [0 1 2]
	// reused 8, computed 2, blocks [0 1 3]
	// hit rate 0.38, 2 idle blocks cached, 2048 bytes
}
