package corpus

import (
	"regexp"
	"strings"
	"testing"
)

var (
	extraSlotKey      = regexp.MustCompile(`\{([^}|]*)`)
	extraSlotParticle = regexp.MustCompile(`\{[^}|]*\|([^}]*)\}`)
)

// extraBanks pairs each language's base bank with its extra phrasings.
var extraBanks = []struct {
	lang        Lang
	base, extra map[string][]string
}{{English, playerEN, extraPlayerEN}, {Korean, playerKO, extraPlayerKO}}

// extraNorm drops what a phrasing may end with, and capitals, which do not
// make it another phrasing.
func extraNorm(s string) string { return strings.TrimRight(strings.ToLower(s), ".!?~ ") }

// Every kind but introductions has extra phrasings in each language: at
// least 12, or 8 for injections, whose held-out attempts (asking for the
// instructions in another language, say) a model must deflect without
// having seen them; and the extras have no kind of their own.
func TestExtraPhrasingsCoverEveryKind(t *testing.T) {
	for _, b := range extraBanks {
		for kind := range b.base {
			want := 12
			switch kind {
			case "intro":
				want = 0
			case "injection":
				want = 8
			}
			if n := len(b.extra[kind]); (want == 0) != (n == 0) || n < want {
				t.Errorf("%s %s: %d extra phrasings; want at least %d (none for introductions)", b.lang, kind, n, want)
			}
		}
		for kind := range b.extra {
			if _, ok := b.base[kind]; !ok {
				t.Errorf("%s: extra kind %q is no kind of the base bank", b.lang, kind)
			}
		}
	}
}

// An extra phrasing uses only the slots (and Korean particles) that the
// base templates of its kind use: a scenario sets no others.
func TestExtraPhrasingsUseTheirKindsSlots(t *testing.T) {
	for _, b := range extraBanks {
		particles := map[string]bool{}
		for _, tpls := range b.base {
			for _, tpl := range tpls {
				for _, m := range extraSlotParticle.FindAllStringSubmatch(tpl, -1) {
					particles[m[1]] = true
				}
			}
		}
		for kind, lines := range b.extra {
			keys := map[string]bool{}
			for _, tpl := range b.base[kind] {
				for _, m := range extraSlotKey.FindAllStringSubmatch(tpl, -1) {
					keys[m[1]] = true
				}
			}
			for _, line := range lines {
				for _, m := range extraSlotKey.FindAllStringSubmatch(line, -1) {
					if !keys[m[1]] {
						t.Errorf("%s %s %q: slot {%s} is not used by the kind's base templates", b.lang, kind, line, m[1])
					}
				}
				for _, m := range extraSlotParticle.FindAllStringSubmatch(line, -1) {
					if !particles[m[1]] {
						t.Errorf("%s %s %q: particle %q is not used in the base bank", b.lang, kind, line, m[1])
					}
				}
			}
		}
	}
}

// No extra phrasing repeats a base template or another extra of its kind,
// and none is malformed.
func TestExtraPhrasingsAreNewAndWellFormed(t *testing.T) {
	for _, b := range extraBanks {
		base := map[string]bool{}
		for _, tpls := range b.base {
			for _, tpl := range tpls {
				base[extraNorm(tpl)] = true
			}
		}
		for kind, lines := range b.extra {
			seen := map[string]bool{}
			for _, line := range lines {
				n := extraNorm(line)
				switch {
				case n == "":
					t.Errorf("%s %s: empty phrasing", b.lang, kind)
				case base[n]:
					t.Errorf("%s %s: %q repeats a base template", b.lang, kind, line)
				case seen[n]:
					t.Errorf("%s %s: %q occurs twice", b.lang, kind, line)
				}
				seen[n] = true
				if strings.ContainsAny(line, "\n\r") || strings.Contains(line, "<|") {
					t.Errorf("%s %s: %q has a line break or a chat marker", b.lang, kind, line)
				}
				if strings.Count(line, "{") != strings.Count(line, "}") {
					t.Errorf("%s %s: unbalanced braces in %q", b.lang, kind, line)
				}
			}
		}
	}
}
