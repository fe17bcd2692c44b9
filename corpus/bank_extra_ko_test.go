package corpus

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// extraKOSlot matches a slot's key, and extraKOParticle its particle.
var (
	extraKOSlot     = regexp.MustCompile(`\{([^}|]*)`)
	extraKOParticle = regexp.MustCompile(`\{[^}|]*\|([^}]*)\}`)
)

// extraKONorm drops what a phrasing may end with that does not change it.
func extraKONorm(s string) string { return strings.TrimRight(s, ".!?~ ") }

func TestExtraKOKinds(t *testing.T) {
	for kind := range playerKO {
		if kind == "injection" || kind == "intro" {
			continue
		}
		if n := len(extraPlayerKO[kind]); n < 12 {
			t.Errorf("%s: %d extra phrasings, want at least 12", kind, n)
		}
	}
	for kind := range extraPlayerKO {
		if _, ok := playerKO[kind]; !ok {
			t.Errorf("extra kind %q is not a playerKO kind", kind)
		}
		if kind == "injection" || kind == "intro" {
			t.Errorf("extra kind %q should have no extra phrasings", kind)
		}
	}
}

func TestExtraKOSlots(t *testing.T) {
	particles := map[string]bool{}
	for _, tpls := range playerKO {
		for _, tpl := range tpls {
			for _, m := range extraKOParticle.FindAllStringSubmatch(tpl, -1) {
				particles[m[1]] = true
			}
		}
	}
	for kind, extras := range extraPlayerKO {
		keys := map[string]bool{}
		for _, tpl := range playerKO[kind] {
			for _, m := range extraKOSlot.FindAllStringSubmatch(tpl, -1) {
				keys[m[1]] = true
			}
		}
		for _, s := range extras {
			for _, m := range extraKOSlot.FindAllStringSubmatch(s, -1) {
				if !keys[m[1]] {
					t.Errorf("%s %q: slot {%s} is not used by the kind's playerKO templates", kind, s, m[1])
				}
			}
			for _, m := range extraKOParticle.FindAllStringSubmatch(s, -1) {
				if !particles[m[1]] {
					t.Errorf("%s %q: particle %q is not used in playerKO", kind, s, m[1])
				}
			}
			if strings.Count(s, "{") != strings.Count(s, "}") {
				t.Errorf("%s %q: unbalanced braces", kind, s)
			}
			if strings.ContainsAny(s, "\n\r") || strings.Contains(s, "<|") {
				t.Errorf("%s %q: line break or chat marker", kind, s)
			}
		}
	}
}

func TestExtraKONew(t *testing.T) {
	existing := map[string]bool{}
	for _, tpls := range playerKO {
		for _, tpl := range tpls {
			existing[extraKONorm(tpl)] = true
		}
	}
	// The longest fixed part of each held-out template, as the corpus's
	// leak check looks for it in training player lines.
	var heldout []string
	for _, tpls := range playerKO {
		for _, tpl := range splitPool(tpls, Heldout) {
			best := ""
			for _, part := range regexp.MustCompile(`\{[^}]*\}`).Split(tpl, -1) {
				if utf8.RuneCountInString(part) > utf8.RuneCountInString(best) {
					best = part
				}
			}
			if utf8.RuneCountInString(best) >= 8 {
				heldout = append(heldout, best)
			}
		}
	}
	for kind, extras := range extraPlayerKO {
		seen := map[string]bool{}
		for _, s := range extras {
			n := extraKONorm(s)
			if existing[n] {
				t.Errorf("%s %q repeats a playerKO template", kind, s)
			}
			if seen[n] {
				t.Errorf("%s %q occurs twice", kind, s)
			}
			seen[n] = true
			for _, frag := range heldout {
				if strings.Contains(s, frag) {
					t.Errorf("%s %q contains held-out phrasing %q", kind, s, frag)
				}
			}
		}
	}
}
