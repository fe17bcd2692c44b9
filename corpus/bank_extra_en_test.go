package corpus

import (
	"regexp"
	"strings"
	"testing"
)

// extraSlotRE matches a slot's key: {key} or {key|particle}.
var extraSlotRE = regexp.MustCompile(`\{([^}|]*)`)

// extraENSkip are the playerEN kinds extraPlayerEN leaves out.
var extraENSkip = map[string]bool{"injection": true, "intro": true}

func normExtraEN(s string) string {
	return strings.TrimRight(strings.ToLower(s), ".!?~ ")
}

// TestExtraENKinds: every playerEN kind but injection and intro has at
// least 12 extra phrasings, and there are no kinds playerEN lacks.
func TestExtraENKinds(t *testing.T) {
	for kind := range playerEN {
		if extraENSkip[kind] {
			continue
		}
		if n := len(extraPlayerEN[kind]); n < 12 {
			t.Errorf("kind %q: %d extra phrasings; want at least 12", kind, n)
		}
	}
	for kind := range extraPlayerEN {
		if _, ok := playerEN[kind]; !ok {
			t.Errorf("extra kind %q is not a playerEN kind", kind)
		}
		if extraENSkip[kind] {
			t.Errorf("extra kind %q should have no extra phrasings", kind)
		}
	}
}

// TestExtraENSlots: an extra phrasing uses only slot keys that playerEN's
// templates of the same kind use.
func TestExtraENSlots(t *testing.T) {
	for kind, lines := range extraPlayerEN {
		allowed := map[string]bool{}
		for _, tpl := range playerEN[kind] {
			for _, m := range extraSlotRE.FindAllStringSubmatch(tpl, -1) {
				allowed[m[1]] = true
			}
		}
		for _, line := range lines {
			for _, m := range extraSlotRE.FindAllStringSubmatch(line, -1) {
				if !allowed[m[1]] {
					t.Errorf("%s: slot %q in %q is not used by playerEN's %s templates", kind, m[1], line, kind)
				}
			}
		}
	}
}

// TestExtraENDistinct: no extra phrasing repeats a playerEN template or
// another extra phrasing of its kind, and none is malformed.
func TestExtraENDistinct(t *testing.T) {
	base := map[string]bool{}
	for _, lines := range playerEN {
		for _, tpl := range lines {
			base[normExtraEN(tpl)] = true
		}
	}
	for kind, lines := range extraPlayerEN {
		seen := map[string]bool{}
		for _, line := range lines {
			n := normExtraEN(line)
			if n == "" {
				t.Errorf("%s: empty phrasing", kind)
			}
			if base[n] {
				t.Errorf("%s: %q equals a playerEN template", kind, line)
			}
			if seen[n] {
				t.Errorf("%s: %q appears twice", kind, line)
			}
			seen[n] = true
			if strings.ContainsAny(line, "\n\r") || strings.Contains(line, "<|") {
				t.Errorf("%s: %q has a line break or a special marker", kind, line)
			}
			if strings.Count(line, "{") != strings.Count(line, "}") {
				t.Errorf("%s: unbalanced braces in %q", kind, line)
			}
		}
	}
}
