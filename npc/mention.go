package npc

import (
	"strings"
	"unicode/utf8"
)

// MentionsName reports whether text names name as a word of its own, in
// any case: not inside another word ("Aren" is not in "Karen" nor in
// "Arena"), but with Korean particles after it ("순이야" names 순이),
// since Korean writes them on the noun. The perception layer asks it
// whether speech addresses an NPC; the recall layout whether a line or
// a lore sentence says a place's whole name.
func MentionsName(text, name string) bool {
	if name == "" {
		return false
	}
	lt, ln := strings.ToLower(text), strings.ToLower(name)
	for i := 0; ; {
		j := strings.Index(lt[i:], ln)
		if j < 0 {
			return false
		}
		j += i
		before, _ := utf8.DecodeLastRuneInString(lt[:j])
		after, _ := utf8.DecodeRuneInString(lt[j+len(ln):])
		// Only a letter of a Latin word after the name makes it another
		// word; a Hangul rune after it is a particle.
		if !isWordRune(before) && !(after < 0x250 && isWordRune(after)) {
			return true
		}
		i = j + len(ln)
	}
}

// isWordRune reports whether r, of lower-cased text, belongs to a word:
// letters, digits, '_' and any non-ASCII rune but spaces and punctuation.
func isWordRune(r rune) bool {
	return r != utf8.RuneError && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 0x80 && !strings.ContainsRune(" \u00a0,.!?…", r))
}
