package grammar

// strTable splits the vocabulary for a free string entered at one
// sub-state, as XGrammar splits tokens into context-independent and
// context-dependent ones: tokens that stay inside the string are allowed
// whatever the schema (given room for their characters), so they are found
// once per vocabulary; only tokens that close the string depend on what the
// schema says comes after it, and those are few (the ones holding a quote).
type strTable struct {
	inside Bitset    // tokens whose every byte stays in the string body
	exits  []strExit // tokens that close the string part way
}

type strExit struct {
	id   int32
	rest int32 // offset of the byte after the closing quote
}

// strTable returns the table for sub-state sub (one without a partial \u
// code point), computing it on first use. Tables are shared by every
// grammar over v.
func (v *Vocab) strTable(sub uint32) *strTable {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t := v.strTables[sub]; t != nil {
		return t
	}
	free := strLeaf{maxLen: -1}
	t := &strTable{inside: NewBitset(len(v.tokens))}
	for id, tok := range v.tokens {
		if len(tok) == 0 || len(tok) > MaxTokenBytes || v.isEOG(int32(id)) {
			continue
		}
		s, n := sub, int64(0)
		inside := true
		for i, b := range tok {
			ns, nn, exit, ok := free.step(s, n, b)
			if !ok {
				inside = false
				break
			}
			if exit {
				t.exits = append(t.exits, strExit{int32(id), int32(i + 1)})
				inside = false
				break
			}
			s, n = ns, nn
		}
		if inside {
			t.inside.Set(int32(id))
		}
	}
	if v.strTables == nil {
		v.strTables = map[uint32]*strTable{}
	}
	v.strTables[sub] = t
	return t
}

// freeStringMask computes the mask of a state that is one thread inside a
// free string, far from its length limits, from the vocabulary's string
// table: the inside tokens wholesale, then each closing token checked
// against what follows the string. It reports false for other states.
// The caller holds g.mu.
func (g *Grammar) freeStringMask(dst Bitset, ts []thread) bool {
	if len(ts) != 1 {
		return false
	}
	t := ts[0]
	nd := &g.nodes[t.node]
	if nd.kind != kStr || t.sub>>8 != 0 {
		return false
	}
	l := &g.strs[nd.leaf]
	if t.reg < l.minLen || (l.maxLen >= 0 && l.maxLen-t.reg <= int64(g.vocab.maxLen)) {
		return false
	}
	tab := g.vocab.strTable(t.sub)
	copy(dst, tab.inside)
	w := &g.walk
	cont := g.closure(w.buf[:0], nd.next)
	w.buf = cont
	for _, e := range tab.exits {
		if g.acceptsBytes(cont, g.vocab.tokens[e.id][e.rest:]) {
			dst.Set(e.id)
		}
	}
	return true
}

// acceptsBytes reports whether state ts can read bs. It uses g.walk's
// scratch beyond ts; the caller holds g.mu.
func (g *Grammar) acceptsBytes(ts []thread, bs []byte) bool {
	if len(bs) == 0 {
		return true
	}
	w := &g.walk
	base := len(ts)
	cur := ts
	for _, b := range bs {
		start := len(w.buf)
		w.buf = g.step(w.buf, cur, b)
		if len(w.buf) == start {
			w.buf = w.buf[:base]
			return false
		}
		cur = w.buf[start:]
	}
	w.buf = w.buf[:base]
	return true
}
