package kvcache

import (
	"errors"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

func TestNewRejectsBadConfig(t *testing.T) {
	ok := Config{Layers: 2, KVHeads: 2, HeadDim: 64, BlockTokens: 16, Budget: 1 << 20}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"zero layers", func(c *Config) { c.Layers = 0 }, "out of range"},
		{"huge head", func(c *Config) { c.HeadDim = 1 << 20 }, "out of range"},
		{"negative block", func(c *Config) { c.BlockTokens = -1 }, "out of range"},
		{"budget below a block", func(c *Config) { c.Budget = 100 }, "holds no block"},
		{"quantized storage", func(c *Config) { c.Type = tensor.Q8_0 }, "want F32 or F16"},
	} {
		cfg := ok
		tc.edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
	c, err := New(ok)
	if err != nil {
		t.Fatalf("New(%+v) = %v", ok, err)
	}
	if got, want := c.BlockBytes(), int64(2*2*2*16*64*4); got != want {
		t.Errorf("BlockBytes() = %d; want %d", got, want)
	}
	if got, want := c.Blocks(), int(int64(1<<20)/c.BlockBytes()); got != want {
		t.Errorf("Blocks() = %d; want %d", got, want)
	}
}

func TestStoreRejectsSharedAndUngrownPositions(t *testing.T) {
	c, err := New(Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: 4, Budget: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	a := c.NewSeq()
	c.Start(a, []int32{1, 2, 3, 4, 5})
	if err := c.Grow(a, 5); err != nil {
		t.Fatal(err)
	}
	kv := make([]float32, 2*5)
	if err := a.Store(0, 0, kv, kv); err != nil {
		t.Fatal(err)
	}
	if err := c.Advance(a, []int32{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	b := c.NewSeq()
	if n := c.Start(b, []int32{1, 2, 3, 4, 9}); n != 4 {
		t.Fatalf("Start = %d reused; want 4", n)
	}
	for _, tc := range []struct {
		name   string
		l, pos int
		n      int
	}{
		{"a shared position", 0, 3, 1},
		{"past the grown blocks", 0, 4, 1},
		{"a layer that does not exist", 1, 4, 1},
	} {
		kv := make([]float32, 2*tc.n)
		if err := b.Store(tc.l, tc.pos, kv, kv); err == nil {
			t.Errorf("Store(%s) = nil; want an error", tc.name)
		}
	}
	if err := b.Store(0, 4, make([]float32, 3), make([]float32, 3)); err == nil {
		t.Errorf("Store(a ragged row) = nil; want an error")
	}
	if err := c.Advance(b, []int32{9}); err == nil {
		t.Errorf("Advance past the grown blocks = nil; want an error")
	}
	if err := c.Grow(b, -1); err == nil {
		t.Errorf("Grow(-1) = nil; want an error")
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestNameCollision forces two different prefixes onto one name: the second
// must stay private (never match as the first), and nothing breaks.
func TestNameCollision(t *testing.T) {
	c, err := New(Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: 2, Budget: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	a := c.NewSeq()
	c.Start(a, []int32{1, 2, 3})
	if err := c.Grow(a, 3); err != nil {
		t.Fatal(err)
	}
	if err := c.Advance(a, []int32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	// Pretend block 0 is also the name of root block {5, 6}.
	x := c.byHash[chain(rootHash, []int32{1, 2})]
	c.byHash[chain(rootHash, []int32{5, 6})] = x
	b := c.NewSeq()
	if n := c.Start(b, []int32{5, 6, 7}); n != 0 {
		t.Fatalf("Start on a colliding name reused %d tokens; want 0", n)
	}
	delete(c.byHash, chain(rootHash, []int32{5, 6}))
	c.byHash[chain(rootHash, []int32{5, 6})] = x // still taken when b publishes
	if err := c.Grow(b, 3); err != nil {
		t.Fatal(err)
	}
	if err := c.Advance(b, []int32{5, 6, 7}); err != nil {
		t.Fatal(err)
	}
	if b.Shared() != 0 {
		t.Errorf("a block whose name is taken was published: Shared() = %d", b.Shared())
	}
	delete(c.byHash, chain(rootHash, []int32{5, 6}))
	c.Release(b)
	c.Release(a)
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if _, n := c.Match([]int32{5, 6, 7}, nil); n != 0 {
		t.Errorf("Match after a collision = %d tokens; want 0", n)
	}
}

func TestOutOfBlocksIsTheSentinel(t *testing.T) {
	c, err := New(Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: 4, Budget: 2 * 64})
	if err != nil {
		t.Fatal(err)
	}
	s := c.NewSeq()
	c.Start(s, nil)
	if err := c.Grow(s, 9); !errors.Is(err, ErrOutOfBlocks) {
		t.Errorf("Grow(9) on 2 blocks of 4 = %v; want ErrOutOfBlocks", err)
	}
	if err := c.Grow(s, 8); err != nil {
		t.Errorf("Grow(8) on 2 blocks of 4 = %v; want nil", err)
	}
}
