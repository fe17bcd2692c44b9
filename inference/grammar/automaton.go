package grammar

// The byte-level automaton. A compiled schema is a graph of nodes; a
// position in the output is a set of threads, each a node plus the small
// registers of the string or number it may be inside. The graph is a
// non-deterministic automaton (anyOf variants and optional keys branch), but
// the thread set after a given byte string is unique, so the set itself is
// the deterministic state: every mask, forced run and completion is a
// function of it. Schemas are not recursive, so the graph is finite; strings
// and numbers keep their counters in registers instead of unrolled states.

// Node kinds.
const (
	kLit = iota // byte edges and epsilon edges
	kStr        // inside a free string, after its opening quote
	kNum        // a number, from its first byte
	kEnd        // the value is complete
)

type edge struct {
	b    byte
	next int32
}

type node struct {
	kind  uint8
	edges []edge  // kLit: byte transitions
	eps   []int32 // kLit: epsilon transitions
	leaf  int32   // kStr, kNum: index into Grammar.strs or Grammar.nums
	next  int32   // kStr, kNum: where the value continues after the leaf
}

// thread is one path through the automaton. For kStr, sub holds the
// position inside a character (strState) and reg the characters so far;
// for kNum, sub holds the number's phase and digit counts and reg the
// magnitude of the digits so far.
type thread struct {
	node int32
	sub  uint32
	reg  int64
}

// strLeaf is a free string's limits.
type strLeaf struct {
	minLen, maxLen int64 // in Unicode code points; maxLen -1 for none
	path           string
}

// String sub-states (low 8 bits of thread.sub). Bits 8 and up hold the
// code point of a \u escape being read.
const (
	sChar  = iota // expecting a character, an escape or the closing quote
	sCont1        // one continuation byte 80-BF left
	sCont2        // two continuation bytes left
	sCont3        // three continuation bytes left
	sE0           // after E0: A0-BF, then one more
	sED           // after ED: 80-9F, then one more
	sF0           // after F0: 90-BF, then two more
	sF4           // after F4: 80-8F, then two more
	sEsc          // after a backslash
	sHex0         // \u, no hex digit yet; sHex0+i after i digits
	sHex1
	sHex2
	sHex3
	sLowBack // after a high surrogate: expecting the backslash of its pair
	sLowU    // expecting the u of the pair
	sLow0    // the low surrogate's hex digits; sLow0+i after i digits
	sLow1
	sLow2
	sLow3
)

func hexVal(b byte) (uint32, bool) {
	switch {
	case b >= '0' && b <= '9':
		return uint32(b - '0'), true
	case b >= 'a' && b <= 'f':
		return uint32(b-'a') + 10, true
	case b >= 'A' && b <= 'F':
		return uint32(b-'A') + 10, true
	}
	return 0, false
}

// stepStr advances a string thread by b. It reports the next sub-state and
// count, or exit when b is the closing quote, or ok false when b is not
// allowed.
func (l *strLeaf) step(sub uint32, count int64, b byte) (nsub uint32, ncount int64, exit, ok bool) {
	st := sub & 0xff
	cp := sub >> 8
	room := l.maxLen < 0 || count < l.maxLen
	switch st {
	case sChar:
		switch {
		case b == '"':
			return 0, 0, true, count >= l.minLen
		case b == '\\':
			return sEsc, count + 1, false, room
		case b < 0x20:
			return 0, 0, false, false
		case b < 0x80:
			return sChar, count + 1, false, room
		case b < 0xC2:
			return 0, 0, false, false
		case b < 0xE0:
			return sCont1, count + 1, false, room
		case b == 0xE0:
			return sE0, count + 1, false, room
		case b == 0xED:
			return sED, count + 1, false, room
		case b < 0xF0:
			return sCont2, count + 1, false, room
		case b == 0xF0:
			return sF0, count + 1, false, room
		case b < 0xF4:
			return sCont3, count + 1, false, room
		case b == 0xF4:
			return sF4, count + 1, false, room
		}
		return 0, 0, false, false
	case sCont1, sCont2, sCont3:
		return st - 1, count, false, b >= 0x80 && b <= 0xBF
	case sE0:
		return sCont1, count, false, b >= 0xA0 && b <= 0xBF
	case sED:
		return sCont1, count, false, b >= 0x80 && b <= 0x9F
	case sF0:
		return sCont2, count, false, b >= 0x90 && b <= 0xBF
	case sF4:
		return sCont2, count, false, b >= 0x80 && b <= 0x8F
	case sEsc:
		switch b {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			return sChar, count, false, true
		case 'u':
			return sHex0, count, false, true
		}
		return 0, 0, false, false
	case sHex0, sHex1, sHex2, sHex3:
		h, isHex := hexVal(b)
		if !isHex {
			return 0, 0, false, false
		}
		cp = cp<<4 | h
		i := st - sHex0 + 1 // digits read, including this one
		if i == 2 && cp >= 0xDC && cp <= 0xDF {
			return 0, 0, false, false // a lone low surrogate
		}
		if i < 4 {
			return (st + 1) | cp<<8, count, false, true
		}
		if cp >= 0xD800 && cp <= 0xDBFF {
			return sLowBack, count, false, true
		}
		return sChar, count, false, true
	case sLowBack:
		return sLowU, count, false, b == '\\'
	case sLowU:
		return sLow0, count, false, b == 'u'
	case sLow0, sLow1, sLow2, sLow3:
		h, isHex := hexVal(b)
		if !isHex {
			return 0, 0, false, false
		}
		cp = cp<<4 | h
		i := st - sLow0 + 1
		switch {
		case i == 1 && cp != 0xD:
			return 0, 0, false, false
		case i == 2 && (cp < 0xDC || cp > 0xDF):
			return 0, 0, false, false
		case i < 4:
			return (st + 1) | cp<<8, count, false, true
		}
		return sChar, count, false, true
	}
	return 0, 0, false, false
}

// numLeaf is an integer or number's limits, in units of 10^-frac.
type numLeaf struct {
	frac      int   // fraction digits allowed: 0 for integers
	intDigits int   // integer-part digits allowed
	lo, hi    int64 // the range, scaled by 10^frac, inclusive
}

// Number sub-state layout (thread.sub).
const (
	nPhaseMask = 0x7 // phase
	nNeg       = 0x8 // a minus sign was read
	nDigShift  = 8   // integer digits read, 8 bits
	nFracShift = 16  // fraction digits read, 8 bits
	phStart    = 0   // nothing read
	phSign     = 1   // "-" read
	phInt      = 2   // integer digits
	phDot      = 3   // "." read
	phFrac     = 4   // fraction digits
	maxIntDig  = 18  // integer type: at most 18 digits, |v| < 10^18
	numIntDig  = 12  // number type: at most 12 integer digits
	numFracDig = 6   // number type: at most 6 fraction digits
)

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// magRange is the inclusive range of magnitudes (scaled) a sign allows, and
// false when it allows none.
func (l *numLeaf) magRange(neg bool) (int64, int64, bool) {
	if !neg {
		lo := max(l.lo, 0)
		return lo, l.hi, l.hi >= 0 && lo <= l.hi
	}
	lo := max(-l.hi, 1)
	hi := -l.lo
	return lo, hi, l.lo <= -1 && lo <= hi
}

func overlaps(a, b, lo, hi int64) bool { return a <= hi && b >= lo }

// feasible reports whether some completion of the state lies in range.
func (l *numLeaf) feasible(sub uint32, mag int64) bool {
	neg := sub&nNeg != 0
	lo, hi, ok := l.magRange(neg)
	if !ok {
		return false
	}
	unit := pow10[l.frac]
	digs := int(sub>>nDigShift) & 0xff
	switch sub & nPhaseMask {
	case phStart, phSign:
		return true // checked by the caller before it commits to a sign
	case phInt:
		if mag == 0 { // "0" or "-0": the integer part is complete
			if l.frac == 0 {
				return !neg && overlaps(0, 0, lo, hi)
			}
			a := int64(0)
			if neg {
				a = 1
			}
			return overlaps(a, unit-1, lo, hi)
		}
		for j := 0; digs+j <= l.intDigits; j++ {
			a := mag * pow10[j] * unit
			if a > hi {
				return false
			}
			b := (mag+1)*pow10[j]*unit - 1
			if overlaps(a, b, lo, hi) {
				return true
			}
		}
		return false
	case phDot, phFrac:
		k := int(sub>>nFracShift) & 0xff
		a := mag * pow10[l.frac-k]
		return overlaps(a, a+pow10[l.frac-k]-1, lo, hi)
	}
	return false
}

// accepting reports whether the number may end here.
func (l *numLeaf) accepting(sub uint32, mag int64) bool {
	neg := sub&nNeg != 0
	lo, hi, ok := l.magRange(neg)
	if !ok {
		return false
	}
	switch sub & nPhaseMask {
	case phInt:
		if neg && mag == 0 {
			return false // "-0" only as the start of "-0.5"
		}
		v := mag * pow10[l.frac]
		return v >= lo && v <= hi
	case phFrac:
		k := int(sub>>nFracShift) & 0xff
		v := mag * pow10[l.frac-k]
		return v >= lo && v <= hi
	}
	return false
}

// step advances a number thread by b.
func (l *numLeaf) step(sub uint32, mag int64, b byte) (uint32, int64, bool) {
	phase := sub & nPhaseMask
	digs := int(sub>>nDigShift) & 0xff
	fracs := int(sub>>nFracShift) & 0xff
	neg := sub & nNeg
	isDigit := b >= '0' && b <= '9'
	d := int64(b - '0')
	var nsub uint32
	var nmag int64
	switch {
	case phase == phStart && b == '-':
		_, _, ok := l.magRange(true)
		return phSign | nNeg, 0, ok
	case (phase == phStart || phase == phSign) && isDigit:
		if d == 0 && neg != 0 && l.frac == 0 {
			return 0, 0, false // no "-0" integers
		}
		nsub, nmag = phInt|neg|1<<nDigShift, d
	case phase == phInt && isDigit:
		if mag == 0 || digs >= l.intDigits {
			return 0, 0, false // no leading zeros; bounded length
		}
		nsub, nmag = phInt|neg|uint32(digs+1)<<nDigShift, mag*10+d
	case phase == phInt && b == '.' && l.frac > 0:
		nsub, nmag = phDot|neg|uint32(digs)<<nDigShift, mag
	case (phase == phDot || phase == phFrac) && isDigit:
		if fracs >= l.frac {
			return 0, 0, false
		}
		nsub, nmag = phFrac|neg|uint32(digs)<<nDigShift|uint32(fracs+1)<<nFracShift, mag*10+d
	default:
		return 0, 0, false
	}
	return nsub, nmag, l.feasible(nsub, nmag)
}
