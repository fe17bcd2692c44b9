package grammar

import (
	"math"
	"math/bits"
)

// Bitset is a set of token ids, 64 per word: bit id%64 of word id/64.
type Bitset []uint64

// NewBitset returns an empty set able to hold ids below n.
func NewBitset(n int) Bitset { return make(Bitset, (n+63)/64) }

// Has reports whether id is in the set.
func (s Bitset) Has(id int32) bool {
	w := int(id) >> 6
	return id >= 0 && w < len(s) && s[w]&(1<<(uint(id)&63)) != 0
}

// Set adds id to the set.
func (s Bitset) Set(id int32) { s[id>>6] |= 1 << (uint(id) & 63) }

// Clear empties the set.
func (s Bitset) Clear() { clear(s) }

// Count is the number of ids in the set.
func (s Bitset) Count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// AppendIDs appends the ids in the set, ascending: for a sparse mask a
// sampler can look at these logits alone.
func (s Bitset) AppendIDs(dst []int32) []int32 {
	for i, w := range s {
		for w != 0 {
			dst = append(dst, int32(i<<6+bits.TrailingZeros64(w)))
			w &= w - 1
		}
	}
	return dst
}

// ApplyMask sets every logit whose id is not in mask to -Inf. Words with
// every token allowed, the common case inside free text, cost one compare;
// runs of words with none allowed, the common case at an enum, are filled
// by doubling copies, which run at memmove speed.
func ApplyMask(logits []float32, mask Bitset) {
	ninf := float32(math.Inf(-1))
	n := len(logits)
	words := (n + 63) / 64
	for wi := 0; wi < words; {
		var w uint64
		if wi < len(mask) {
			w = mask[wi]
		}
		switch w {
		case math.MaxUint64:
			wi++
			continue
		case 0:
			end := wi + 1
			for end < words && end < len(mask) && mask[end] == 0 {
				end++
			}
			if end < words && end >= len(mask) {
				end = words // ids past the mask are never allowed
			}
			seg := logits[wi*64 : min(end*64, n)]
			seg[0] = ninf
			for filled := 1; filled < len(seg); filled *= 2 {
				copy(seg[filled:], seg[:filled])
			}
			wi = end
			continue
		}
		base := wi * 64
		for off := ^w; off != 0; off &= off - 1 {
			i := base + bits.TrailingZeros64(off)
			if i >= n {
				break
			}
			logits[i] = ninf
		}
		wi++
	}
}
