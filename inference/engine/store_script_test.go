package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/kvcache"
	"github.com/anima-rt/anima/inference/model"
)

// TestStoreScripts runs testdata/store*.txt against a real prefix store on
// the reference model: sequences are prefilled by the model, saved into
// the store and loaded back into fresh States, and every load is checked
// against computing the same positions from scratch.
//
// Commands:
//
//	store blocks=N             a store of N blocks (of 16 tokens)
//	prefill s=NAME tokens=T    compute T in State NAME (continuing what it holds of T)
//	save s=NAME                store NAME's full blocks
//	load s=NAME tokens=T       load into NAME (new, or truncated to what it shares with T) the longest stored prefix of T
//	hold s=NAME tokens=T       a reader holding T's stored blocks, as the engine does while it copies them
//	release s=NAME             end the hold
//	match tokens=T             what the store holds of T
//	stats                      the store's blocks and counters
func TestStoreScripts(t *testing.T) {
	fx := loadFixture(t)
	runScripts(t, "testdata/store*.txt", func(t *testing.T) func(*scriptCase) (string, error) {
		m := &storeMachine{fx: fx, states: map[string]*storeState{}, held: map[string]*kvcache.Seq{}}
		return m.run
	})
}

type storeMachine struct {
	fx     *fixture
	p      *prefixStore
	states map[string]*storeState
	held   map[string]*kvcache.Seq
}

// storeState is a sequence outside any engine: a model State and the
// tokens it holds.
type storeState struct {
	st   *model.State
	toks []int32
}

const storeScriptContext = 256

func (m *storeMachine) state(name string) (*storeState, error) {
	if s, ok := m.states[name]; ok {
		return s, nil
	}
	st, err := m.fx.m.NewState(storeScriptContext, 0)
	if err != nil {
		return nil, err
	}
	s := &storeState{st: st}
	m.states[name] = s
	return s, nil
}

func (m *storeMachine) run(c *scriptCase) (string, error) {
	toks, err := parseTokens(c.Args["tokens"])
	if err != nil {
		return "", err
	}
	if c.Cmd != "store" && m.p == nil {
		return "", fmt.Errorf("%s before store", c.Cmd)
	}
	var b strings.Builder
	switch c.Cmd {
	case "store":
		n, err := intArg(c, "blocks", 0)
		if err != nil {
			return "", err
		}
		cfg := &m.fx.m.Config
		const bt = 16 // kvcache's default block
		blockBytes := int64(2 * bt * cfg.Layers * cfg.KVHeads * cfg.HeadDim * 4)
		if m.p, err = newPrefixStore(m.fx.m, int64(n)*blockBytes); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d blocks of %d tokens, %d bytes each", m.p.c.Blocks(), m.p.c.BlockTokens(), m.p.c.BlockBytes())
	case "prefill":
		s, err := m.state(c.Args["s"])
		if err != nil {
			return "", err
		}
		have := lcp(s.toks, toks)
		if err := s.st.Truncate(have); err != nil {
			return "", err
		}
		if _, err := m.fx.m.Forward(s.st, toks[have:]); err != nil {
			return "", err
		}
		s.toks = toks
		fmt.Fprintf(&b, "%s holds %d tokens (%d computed)", c.Args["s"], len(toks), len(toks)-have)
	case "save":
		s, ok := m.states[c.Args["s"]]
		if !ok {
			return "", fmt.Errorf("no state %q", c.Args["s"])
		}
		before := m.p.c.Stats()
		m.p.save(s.st, nil, s.toks)
		after := m.p.c.Stats()
		fmt.Fprintf(&b, "published %d blocks (%d already stored), evicted %d\n", after.Published-before.Published, after.Deduplicated-before.Deduplicated, after.Evictions-before.Evictions)
		b.WriteString(m.summary())
	case "load":
		s, err := m.state(c.Args["s"])
		if err != nil {
			return "", err
		}
		have := lcp(s.toks, toks)
		if err := s.st.Truncate(have); err != nil {
			return "", err
		}
		n := m.p.load(s.st, nil, toks, have)
		s.toks = toks[:n]
		fmt.Fprintf(&b, "%s holds %d tokens (%d loaded)", c.Args["s"], n, n-have)
		if n > have {
			d, err := m.diff(s.st, toks[:n])
			if err != nil {
				return "", err
			}
			if d > 1e-4 {
				fmt.Fprintf(&b, "; keys and values differ from a fresh prefill by up to %g", d)
			} else {
				b.WriteString(", equal to a fresh prefill")
			}
		}
	case "hold":
		q := m.p.c.NewSeq()
		n := m.p.c.Start(q, toks)
		m.held[c.Args["s"]] = q
		fmt.Fprintf(&b, "%s holds %d tokens in blocks %v", c.Args["s"], n, q.Blocks())
	case "release":
		q, ok := m.held[c.Args["s"]]
		if !ok {
			return "", fmt.Errorf("no hold %q", c.Args["s"])
		}
		m.p.c.Release(q)
		delete(m.held, c.Args["s"])
		b.WriteString(m.summary())
	case "match":
		blocks, n := m.p.c.Match(toks, nil)
		fmt.Fprintf(&b, "%d of %d tokens stored: blocks %v", n, len(toks), blocks)
	case "stats":
		b.WriteString(m.summary())
	default:
		return "", fmt.Errorf("unknown command %q", c.Cmd)
	}
	if err := m.p.c.Check(); err != nil {
		return "", fmt.Errorf("after %s: %w", c.Line, err)
	}
	return b.String(), nil
}

func (m *storeMachine) summary() string {
	st := m.p.c.Stats()
	return fmt.Sprintf("store: %d held, %d idle, %d free; %d of %d bytes; %d evictions, %d failures",
		st.Held, st.Idle, st.Free, st.Bytes, st.Budget, st.Evictions, st.Failures)
}

// diff is the largest difference between the keys and values st holds and
// those of a fresh prefill of toks.
func (m *storeMachine) diff(st *model.State, toks []int32) (float64, error) {
	ref, err := m.fx.m.NewState(storeScriptContext, 0)
	if err != nil {
		return 0, err
	}
	if _, err := m.fx.m.Forward(ref, toks); err != nil {
		return 0, err
	}
	cfg := &m.fx.m.Config
	hd, n := cfg.HeadDim, len(toks)
	d := 0.0
	for l := range cfg.Layers {
		for g := range cfg.KVHeads {
			k, rk := st.Cache.Keys(l, g), ref.Cache.Keys(l, g)
			for i := range n * hd {
				d = math.Max(d, math.Abs(float64(k[i]-rk[i])))
			}
			v, rv := st.Cache.Values(l, g), ref.Cache.Values(l, g)
			for j := range hd {
				for p := range n {
					d = math.Max(d, math.Abs(float64(v[j*st.Cache.Cap+p]-rv[j*ref.Cache.Cap+p])))
				}
			}
		}
	}
	return d, nil
}
