package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// preRule is a pre-tokenizer: the split into words that BPE merges inside
// of. The rules are regular expressions in llama.cpp and Hugging Face, with
// a lookahead Go's regexp lacks, so next walks the same alternatives by hand:
//
// GPT-2:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Qwen2 (Llama 3 is the same with \p{N}{1,3}):
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// As in a regexp, the first alternative that matches at a position wins.
type preRule struct {
	modern       bool // the Qwen2 / Llama 3 family rather than GPT-2's
	maxDigits    int  // digits per word in the modern family
	ignoreMerges bool // a word that is itself a token is not merged (Llama 3)
}

var (
	gpt2Split   = preRule{}
	qwen2Split  = preRule{modern: true, maxDigits: 1}
	llama3Split = preRule{modern: true, maxDigits: 3, ignoreMerges: true}
)

func (p preRule) name() string {
	switch {
	case !p.modern:
		return "gpt2"
	case p.maxDigits == 1:
		return "qwen2"
	}
	return "llama3"
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isSpace is \s: Unicode White_Space, which unicode.IsSpace implements.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

// isOther is [^\s\p{L}\p{N}]. Invalid UTF-8 decodes as U+FFFD and lands
// here, so any byte string splits somewhere.
func isOther(r rune) bool { return r >= 0 && !isSpace(r) && !isLetter(r) && !isNumber(r) }

// runeAt decodes the rune at s[i:], or (-1, 0) at the end.
func runeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// scan advances over runes satisfying class, at most limit of them (limit
// < 0: no limit).
func scan(s string, i, limit int, class func(rune) bool) int {
	for limit != 0 {
		r, n := runeAt(s, i)
		if n == 0 || !class(r) {
			break
		}
		i += n
		limit--
	}
	return i
}

// contraction returns the length of an English contraction suffix ('s,
// 't, 're, 've, 'm, 'll, 'd) at the start of s, after the apostrophe.
func (p preRule) contraction(s string) int {
	for _, suf := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if len(s) < len(suf) {
			continue
		}
		match := true
		for k := 0; k < len(suf); k++ {
			c := s[k]
			if p.modern && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != suf[k] {
				match = false
				break
			}
		}
		if match {
			return len(suf)
		}
	}
	return 0
}

// next returns the end of the word that starts at s[i] (i < len(s)).
func (p preRule) next(s string, i int) int {
	r0, n0 := runeAt(s, i)
	j := i + n0
	r1, n1 := runeAt(s, j)

	if r0 == '\'' {
		if n := p.contraction(s[j:]); n > 0 {
			return j + n
		}
	}
	if isLetter(r0) {
		return scan(s, j, -1, isLetter)
	}
	if isLetter(r1) {
		if p.modern && r0 != '\r' && r0 != '\n' && !isNumber(r0) { // [^\r\n\p{L}\p{N}]?\p{L}+
			return scan(s, j+n1, -1, isLetter)
		}
		if !p.modern && r0 == ' ' { // ' ?\p{L}+'
			return scan(s, j+n1, -1, isLetter)
		}
	}
	if p.modern {
		if isNumber(r0) {
			return scan(s, j, p.maxDigits-1, isNumber)
		}
	} else {
		if isNumber(r0) {
			return scan(s, j, -1, isNumber)
		}
		if r0 == ' ' && isNumber(r1) {
			return scan(s, j+n1, -1, isNumber)
		}
	}

	// ' ?[^\s\p{L}\p{N}]+', then '[\r\n]*' in the modern family.
	k := -1
	if isOther(r0) {
		k = j
	} else if r0 == ' ' && n1 > 0 && isOther(r1) {
		k = j + n1
	}
	if k >= 0 {
		k = scan(s, k, -1, isOther)
		if p.modern {
			k = scan(s, k, -1, func(r rune) bool { return r == '\r' || r == '\n' })
		}
		return k
	}

	if isSpace(r0) {
		end, last, lastNL := i, i, -1
		for end < len(s) {
			r, n := runeAt(s, end)
			if !isSpace(r) {
				break
			}
			if r == '\r' || r == '\n' {
				lastNL = end
			}
			last = end
			end += n
		}
		if p.modern && lastNL >= 0 { // '\s*[\r\n]+': up to the last newline
			return lastNL + 1
		}
		if end == len(s) || last == i { // '\s+(?!\S)' at the end, or '\s+'
			return end
		}
		return last // '\s+(?!\S)': leave the last space to the next word
	}
	return j
}
