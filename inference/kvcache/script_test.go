package kvcache

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
	"github.com/anima-rt/anima/internal/scripttest"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/ script files")

// Script tests (internal/scripttest): testdata/*.txt run through a
// treeMachine.
type scriptCase = scripttest.Case

var parseTokens = scripttest.Tokens

// treeMachine runs script commands against a real Cache.
type treeMachine struct {
	c    *Cache
	seqs map[string]*Seq
}

func (m *treeMachine) seq(name string) *Seq {
	s, ok := m.seqs[name]
	if !ok {
		s = m.c.NewSeq()
		m.seqs[name] = s
	}
	return s
}

func (m *treeMachine) run(c *scriptCase) (string, error) {
	toks, err := parseTokens(c.Args["tokens"])
	if err != nil {
		return "", err
	}
	num := func(k string) int {
		n, err2 := strconv.Atoi(c.Args[k])
		if err2 != nil && err == nil {
			err = fmt.Errorf("argument %s=%q: %w", k, c.Args[k], err2)
		}
		return n
	}
	var b strings.Builder
	switch c.Cmd {
	case "init":
		bt, blocks := num("bt"), num("blocks")
		if err != nil {
			return "", err
		}
		cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: bt, Type: tensor.F32}
		cfg.Budget = int64(blocks) * int64(2*bt*cfg.HeadDim*4)
		if m.c, err = New(cfg); err != nil {
			return "", err
		}
		m.seqs = map[string]*Seq{}
		fmt.Fprintf(&b, "%d blocks of %d tokens, %d bytes each", m.c.Blocks(), m.c.BlockTokens(), m.c.BlockBytes())
	case "start":
		s := m.seq(c.Args["s"])
		n := m.c.Start(s, toks)
		fmt.Fprintf(&b, "reused %d tokens: %v", n, s.Blocks())
	case "grow":
		s := m.seq(c.Args["s"])
		n := num("n")
		if err != nil {
			return "", err
		}
		if err := m.c.Grow(s, n); err != nil {
			fmt.Fprintf(&b, "error: %v (out of blocks: %v)", err, errors.Is(err, ErrOutOfBlocks))
			break
		}
		fmt.Fprintf(&b, "table %v", s.Blocks())
	case "advance":
		s := m.seq(c.Args["s"])
		if err := m.c.Advance(s, toks); err != nil {
			fmt.Fprintf(&b, "error: %v", err)
			break
		}
		fmt.Fprintf(&b, "len %d, table %v, shared %d", s.Len(), s.Blocks(), s.Shared())
	case "prefill": // grow and advance over the prompt's uncached part
		s := m.seq(c.Args["s"])
		n := m.c.Start(s, toks)
		fmt.Fprintf(&b, "reused %d tokens\n", n)
		if err := m.c.Grow(s, len(toks)-n); err != nil {
			fmt.Fprintf(&b, "error: %v", err)
			break
		}
		if err := m.c.Advance(s, toks[n:]); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "len %d, table %v, shared %d", s.Len(), s.Blocks(), s.Shared())
	case "release":
		m.c.Release(m.seq(c.Args["s"]))
		b.WriteString("ok")
	case "match":
		blocks, n := m.c.Match(toks, nil)
		fmt.Fprintf(&b, "%d tokens: %v", n, blocks)
	case "lru":
		s := m.c.sentinel()
		b.WriteString("oldest→")
		for x := m.c.next[s]; x != s; x = m.c.next[x] {
			fmt.Fprintf(&b, " %d", x)
		}
	case "tree":
		for x := range m.c.Blocks() {
			if !m.c.cached[x] {
				continue
			}
			t := m.c.tokens[x*m.c.bt : (x+1)*m.c.bt]
			fmt.Fprintf(&b, "block %d: parent %d, ref %d, children %d, tokens %d..%d\n", x, m.c.parent[x], m.c.ref[x], m.c.children[x], t[0], t[len(t)-1])
		}
	case "stats":
		st := m.c.Stats()
		fmt.Fprintf(&b, "free %d private %d held %d idle %d; %d/%d bytes\n", st.Free, st.Private, st.Held, st.Idle, st.Bytes, st.Budget)
		fmt.Fprintf(&b, "lookups %d hits %d tokens %d/%d reused (%d copied); published %d deduplicated %d evictions %d failures %d",
			st.Lookups, st.Hits, st.TokensReused, st.TokensLooked, st.TokensCopied, st.Published, st.Deduplicated, st.Evictions, st.Failures)
	default:
		return "", fmt.Errorf("unknown command %q", c.Cmd)
	}
	return b.String(), err
}

func TestScripts(t *testing.T) {
	scripttest.Run(t, "testdata/*.txt", *update, func(t *testing.T) func(*scriptCase) (string, error) {
		m := &treeMachine{}
		return func(c *scriptCase) (string, error) {
			got, err := m.run(c)
			if err == nil && m.c != nil {
				if cerr := m.c.Check(); cerr != nil {
					return "", fmt.Errorf("after the command: %w", cerr)
				}
			}
			return got, err
		}
	})
}
