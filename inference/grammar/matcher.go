package grammar

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrRejected is wrapped by Accept's error for a token the grammar does not
// allow in the current state.
var ErrRejected = errors.New("token not allowed here")

// Matcher follows one generation through a Grammar: it says which tokens
// may come next, takes the chosen ones, and streams one string field's
// text. It is not safe for concurrent use; the scheduler owns one per
// sequence.
type Matcher struct {
	g    *Grammar
	cur  []thread // the state: canonical thread set
	bufA []thread // scratch for stepping
	bufB []thread
	done bool // an end-of-generation token was accepted, or Close ran

	key     []byte    // scratch for mask keys
	fkey    []byte    // scratch for forced-run keys
	cls     []thread  // scratch for mask classes
	scratch maskEntry // a mask computed when the cache is full

	field     []int32 // kStr nodes of the streamed field; nil when none
	fieldRaw  []byte  // scratch: field bytes of the token being accepted
	unesc     unescaper
	fieldDone bool
	closeBuf  []byte
}

// NewMatcher returns a Matcher at the start of the output.
func (g *Grammar) NewMatcher() *Matcher {
	m := &Matcher{g: g}
	m.Reset()
	return m
}

// Reset returns m to the start of the output, keeping the streamed field.
func (m *Matcher) Reset() {
	m.cur = m.g.closure(m.cur[:0], m.g.start)
	if len(m.cur) > 1 {
		m.cur = canonical(m.cur)
	}
	m.done = false
	m.unesc.reset()
	m.fieldDone = false
}

// StreamField chooses the string field whose text FieldDelta streams, by
// JSON path: property names joined by dots, "[]" for array items ("say",
// "action.target", "lines[]"). It must name a free string (not an enum or
// const).
func (m *Matcher) StreamField(path string) error {
	nodes, ok := m.g.fields[path]
	if !ok {
		return fmt.Errorf("grammar: stream field %q: no free string at that path", path)
	}
	m.field = nodes
	return nil
}

// Done reports whether the output is finished: an end-of-generation token
// was accepted or Close ran, or the JSON is complete and nothing but
// end-of-generation may follow.
func (m *Matcher) Done() bool {
	if m.done {
		return true
	}
	for _, t := range m.cur {
		if m.g.nodes[t.node].kind != kEnd {
			return false
		}
	}
	return true
}

// Complete reports whether the JSON so far is a complete valid value, so
// the generation may end here.
func (m *Matcher) Complete() bool { return m.done || m.g.accepting(m.cur) }

// Mask returns the tokens allowed next: end-of-generation tokens only when
// the JSON is complete, nothing once done. The Bitset belongs to the
// Grammar's cache (or to m) and must not be modified; it stays valid until
// m's next call.
func (m *Matcher) Mask() Bitset {
	mask, _ := m.Allowed()
	return mask
}

// Allowed is Mask, plus the allowed ids as a list when there are at most
// MaxSparse of them (nil otherwise). At an enum or a number, where a large
// vocabulary allows a handful of tokens, a sampler that gathers those
// logits does O(allowed) work instead of ApplyMask's O(vocabulary). Both
// belong to the Grammar and must not be modified.
func (m *Matcher) Allowed() (Bitset, []int32) {
	if m.done {
		return m.g.empty, m.g.emptyIDs
	}
	g := m.g
	g.mu.Lock()
	e := g.mask(m.cur, m)
	g.mu.Unlock()
	return e.bits, e.ids
}

// Accept advances m by token tok. A token the grammar does not allow
// leaves m unchanged and returns an error wrapping ErrRejected.
func (m *Matcher) Accept(tok int32) error {
	if m.done {
		return fmt.Errorf("grammar: accept %d: the output is finished: %w", tok, ErrRejected)
	}
	v := m.g.vocab
	if v.isEOG(tok) {
		if !m.g.accepting(m.cur) {
			return fmt.Errorf("grammar: accept %d: end of generation before the JSON is complete: %w", tok, ErrRejected)
		}
		m.done = true
		return nil
	}
	b := v.Token(tok)
	if len(b) == 0 || len(b) > MaxTokenBytes {
		return fmt.Errorf("grammar: accept %d: a token with no text in JSON: %w", tok, ErrRejected)
	}
	if err := m.consume(b); err != nil {
		return fmt.Errorf("grammar: accept %d (%q): %w", tok, b, err)
	}
	return nil
}

// consume steps m over bs, all or nothing, feeding the streamed field.
func (m *Matcher) consume(bs []byte) error {
	g := m.g
	cur := append(m.bufA[:0], m.cur...)
	tmp := m.bufB[:0]
	defer func() { m.bufA, m.bufB = cur, tmp }() // keep the grown scratch
	m.fieldRaw = m.fieldRaw[:0]
	closed := false
	for i, b := range bs {
		tmp = g.step(tmp[:0], cur, b)
		if len(tmp) == 0 {
			return fmt.Errorf("byte %d of %d (%q): %w", i+1, len(bs), b, ErrRejected)
		}
		if m.field != nil && m.inField(cur) {
			if m.inField(tmp) {
				m.fieldRaw = append(m.fieldRaw, b)
			} else {
				closed = true
			}
		}
		cur, tmp = tmp, cur
	}
	m.cur = append(m.cur[:0], cur...)
	for _, b := range m.fieldRaw {
		m.unesc.add(b)
	}
	if closed {
		m.fieldDone = true
	}
	return nil
}

func (m *Matcher) inField(ts []thread) bool {
	for _, t := range ts {
		for _, n := range m.field {
			if t.node == n {
				return true
			}
		}
	}
	return false
}

// AppendDelta appends the streamed field's text decoded since the last
// call: escapes undone (\" \n \uXXXX, surrogate pairs joined), and a
// character split across tokens held back until it is whole.
func (m *Matcher) AppendDelta(dst []byte) []byte { return m.unesc.appendComplete(dst) }

// FieldDone reports whether the streamed field's closing quote was read,
// so no more of its text will come.
func (m *Matcher) FieldDone() bool { return m.fieldDone }

// Forced returns the tokens that must come next whatever the model says
// (the scaffolding of keys and punctuation, the rest of an enum value once
// its prefix is unique), ending with the stop token when they complete the
// JSON; nil when there is a choice. The caller accepts them one by one,
// without sampling. The run is the tokenizer's Encode of the forced text,
// as the model saw such text in training, except that when the last of
// those tokens could merge with what follows into a longer allowed token,
// it is left to the model. The slice belongs to the Grammar.
func (m *Matcher) Forced() []int32 {
	if m.done || !m.g.singleByte(m.cur) {
		return nil
	}
	g := m.g
	g.mu.Lock()
	defer g.mu.Unlock()
	m.fkey = appendKey(m.fkey[:0], m.cur)
	if f, ok := g.forced[string(m.fkey)]; ok {
		return f
	}
	f := g.computeForced(m.cur, m) // uses m.key for masks
	if len(g.forced) < g.maxMasks {
		g.forced[string(m.fkey)] = f
		g.cached += mapEntryBytes + int64(len(m.fkey)) + int64(cap(f))*4
	}
	return f
}

// singleByte reports whether ts allows at most one next byte (or only end
// of generation), cheaply ruling out states inside free text.
func (g *Grammar) singleByte(ts []thread) bool {
	_, n := g.nextBytes(ts)
	return n <= 1
}

// nextBytes returns the one byte ts allows next and how many bytes it
// allows, counting up to 2.
func (g *Grammar) nextBytes(ts []thread) (byte, int) {
	var only byte
	n := 0
	note := func(b byte) {
		switch {
		case n == 0:
			only, n = b, 1
		case b != only:
			n = 2
		}
	}
	var one [1]thread
	var out [64]thread
	for _, t := range ts {
		nd := &g.nodes[t.node]
		switch nd.kind {
		case kEnd:
			if len(ts) > 1 {
				return 0, 2 // complete, yet could go on: a choice
			}
		case kLit:
			for _, e := range nd.edges {
				note(e.b)
				if n > 1 {
					return 0, 2
				}
			}
		case kStr:
			l := &g.strs[nd.leaf]
			switch t.sub & 0xff {
			case sChar:
				if l.maxLen < 0 || t.reg < l.maxLen {
					return 0, 2 // free text
				}
				if t.reg >= l.minLen {
					note('"') // full: only the closing quote
				}
			case sLowBack:
				note('\\')
			case sLowU:
				note('u')
			default:
				return 0, 2 // continuation bytes, escapes and hex digits all vary
			}
			if n > 1 {
				return 0, 2
			}
		case kNum:
			one[0] = t
			for b := 0; b < 256; b++ {
				if len(g.step(out[:0], one[:], byte(b))) > 0 {
					note(byte(b))
					if n > 1 {
						return 0, 2
					}
				}
			}
		}
	}
	return only, n
}

// computeForced walks the forced bytes from ts and tokenizes them. The
// caller holds g.mu.
func (g *Grammar) computeForced(ts []thread, m *Matcher) []int32 {
	const maxForced = 1024
	cur := append([]thread(nil), ts...)
	var text []byte
	var states [][]thread // states[i] is the state before text[i]
	for len(text) < maxForced {
		b, n := g.nextBytes(cur)
		if n != 1 {
			break
		}
		states = append(states, cur)
		cur = g.step(nil, cur, b)
		text = append(text, b)
	}
	complete := len(cur) > 0 && g.accepting(cur) && len(cur) == 1
	var toks []int32
	if len(text) > 0 {
		toks = g.vocab.tokenize(text)
		if toks == nil {
			return nil
		}
		if !complete {
			// Hold back the last token when a longer allowed token starts
			// with it: the model may mean to write that one.
			lastLen := len(g.vocab.tokens[toks[len(toks)-1]])
			before := states[len(text)-lastLen]
			if g.extendable(before, g.vocab.tokens[toks[len(toks)-1]], m) {
				toks = toks[:len(toks)-1]
			}
		}
	}
	if complete {
		toks = append(toks, g.vocab.stop)
	}
	if len(toks) == 0 {
		return nil
	}
	return toks
}

// extendable reports whether some token other than t, with t as a prefix,
// is allowed from state ts. The caller holds g.mu.
func (g *Grammar) extendable(ts []thread, t []byte, m *Matcher) bool {
	v := g.vocab
	i := 0
	for d := 1; d <= len(t) && i < len(v.trie); {
		n := &v.trie[i]
		if int(n.depth) < d {
			return false
		}
		if n.b != t[d-1] {
			i = int(n.skip)
			continue
		}
		if d == len(t) {
			break
		}
		d++
		i++
	}
	if i >= len(v.trie) {
		return false
	}
	mask := g.mask(ts, m).bits
	for j := i + 1; j < int(v.trie[i].skip); j++ {
		for id := v.trie[j].tok; id >= 0; id = v.dup[id] {
			if mask.Has(id) {
				return true
			}
		}
	}
	return false
}

// Close ends the output early, as when max_tokens runs out: it appends a
// short completion that makes the JSON valid (strings closed, required
// fields filled with the first value the automaton allows by preferring
// closing punctuation, then digits, then letters: "" for a free string,
// the smallest fitting number, an enum's first spelling) and returns those
// bytes. The streamed field receives its share. After Close, m is done.
// The slice belongs to m.
func (m *Matcher) Close() []byte {
	m.closeBuf = m.closeBuf[:0]
	if m.done {
		return m.closeBuf
	}
	const maxClose = 1 << 22
	g := m.g
	var one [1]byte
	for len(m.closeBuf) < maxClose && !g.accepting(m.cur) {
		if num := m.shortestNumber(); num != nil && m.consume(num) == nil {
			m.closeBuf = append(m.closeBuf, num...)
			continue
		}
		order := closeOrder
		for _, t := range m.cur {
			if g.nodes[t.node].kind == kStr {
				order = stringOrder // ']' would be text here, not an end
			}
		}
		progressed := false
		for i := 0; i < len(order)+256 && !progressed; i++ {
			b := byte(i - len(order))
			if i < len(order) {
				b = order[i]
			}
			one[0] = b
			m.bufB = g.step(m.bufB[:0], m.cur, b)
			if len(m.bufB) > 0 && m.consume(one[:]) == nil {
				m.closeBuf = append(m.closeBuf, b)
				progressed = true
			}
		}
		if !progressed {
			break // unreachable for a compiled schema: every live state completes
		}
	}
	m.done = true
	return m.closeBuf
}

// closeOrder is the byte preference of Close, before all other bytes: end
// what is open first, then the smallest digits, then letters.
const (
	closeOrder  = `"]},0123456789abcdefghijklmnopqrstuvwxyz-.`
	stringOrder = `"0123456789abcdefghijklmnopqrstuvwxyz`
)

// shortestNumber spells the in-range value nearest zero of a number about
// to start, or returns nil when no number is starting.
func (m *Matcher) shortestNumber() []byte {
	for _, t := range m.cur {
		nd := &m.g.nodes[t.node]
		if nd.kind != kNum || t.sub != phStart {
			continue
		}
		l := &m.g.nums[nd.leaf]
		v := int64(0)
		switch {
		case l.lo > 0:
			v = l.lo
		case l.hi < 0:
			v = l.hi
		}
		var b []byte
		if v < 0 {
			b = append(b, '-')
			v = -v
		}
		unit := pow10[l.frac]
		b = strconv.AppendInt(b, v/unit, 10)
		if f := v % unit; f != 0 {
			digits := strconv.AppendInt(nil, unit+f, 10)[1:] // zero-padded to frac digits
			b = append(b, '.')
			b = append(b, bytes.TrimRight(digits, "0")...)
		}
		return b
	}
	return nil
}

// unescaper decodes a JSON string's body byte by byte. The grammar has
// already checked the bytes, so it never sees invalid input.
type unescaper struct {
	out   []byte // decoded text not yet handed out
	state int    // 0 text, 1 after '\', 2-5 after i-2 hex digits of \u
	cp    rune   // the \u escape being read
	high  rune   // a high surrogate waiting for its low half
}

func (u *unescaper) reset() { *u = unescaper{out: u.out[:0]} }

func (u *unescaper) add(b byte) {
	switch u.state {
	case 0:
		if b == '\\' {
			u.state = 1
			return
		}
		u.out = append(u.out, b)
	case 1:
		u.state = 0
		switch b {
		case 'b':
			u.out = append(u.out, '\b')
		case 'f':
			u.out = append(u.out, '\f')
		case 'n':
			u.out = append(u.out, '\n')
		case 'r':
			u.out = append(u.out, '\r')
		case 't':
			u.out = append(u.out, '\t')
		case 'u':
			u.state, u.cp = 2, 0
		default: // " \ /
			u.out = append(u.out, b)
		}
	default:
		h, _ := hexVal(b)
		u.cp = u.cp<<4 | rune(h)
		if u.state < 5 {
			u.state++
			return
		}
		u.state = 0
		switch {
		case u.cp >= 0xD800 && u.cp <= 0xDBFF:
			u.high = u.cp
		case u.cp >= 0xDC00 && u.cp <= 0xDFFF && u.high != 0:
			u.out = utf8.AppendRune(u.out, 0x10000+(u.high-0xD800)<<10+(u.cp-0xDC00))
			u.high = 0
		default:
			u.out = utf8.AppendRune(u.out, u.cp)
		}
	}
}

// appendComplete appends the decoded text up to the last whole character.
func (u *unescaper) appendComplete(dst []byte) []byte {
	n := len(u.out)
	// Hold back a trailing incomplete UTF-8 sequence (at most 3 bytes).
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		if utf8.RuneStart(u.out[i]) {
			if !utf8.FullRune(u.out[i:]) {
				n = i
			}
			break
		}
	}
	dst = append(dst, u.out[:n]...)
	rest := copy(u.out, u.out[n:])
	u.out = u.out[:rest]
	return dst
}
