package corpus

import (
	"slices"
	"strings"
	"testing"
)

// Every place of every generated world is among PlaceNames, and the
// generator's own replies name places of their prompt's world: the
// standard eval holds a model to. (A few Korean replies name a kind of
// place as a common noun — a guard threatening to report a player to the
// 관아, the magistrate's office — where the world has none of that name.)
func TestReferenceRepliesNameOnlyTheirWorldsPlaces(t *testing.T) {
	names := map[Lang][]string{English: PlaceNames(English), Korean: PlaceNames(Korean)}
	named, made := 0, 0
	for _, split := range []Split{Train, Heldout} {
		for _, e := range examples(t, split, 1500) {
			for _, p := range e.input.Lore.Places {
				if !slices.Contains(names[e.Lang], p.Name) {
					t.Fatalf("%s: place %q is not among PlaceNames(%s)", e.ID, p.Name, e.Lang)
				}
			}
			prompt := strings.ToLower(e.Prompt())
			for _, p := range NamedPlaces(e.Decision.Say, names[e.Lang]) {
				named++
				if !strings.Contains(prompt, strings.ToLower(p)) {
					made++
					t.Logf("%s: reference %q names %q, which the prompt does not have", e.ID, e.Decision.Say, p)
				}
			}
		}
	}
	if made*100 > named {
		t.Errorf("%d of %d place names in reference replies are not the prompt's; want under 1%%", made, named)
	}
	if named < 100 {
		t.Errorf("only %d place names in 3,000 reference replies; the matcher is missing them", named)
	}
}

func TestNamedPlacesLongestFirstWithoutArticle(t *testing.T) {
	names := []string{"the Keep Tower", "The Rusty Anchor", "the Keep"}
	for _, tc := range []struct {
		say  string
		want []string
	}{
		{"The Keep Tower is up the hill.", []string{"the Keep Tower"}},
		{"Try The Rusty Anchor, or the Keep.", []string{"The Rusty Anchor", "the Keep"}},
		{"Keeps me busy. I'll keep my coin.", nil},
		{"Nothing here.", nil},
	} {
		if got := NamedPlaces(tc.say, names); !slices.Equal(got, tc.want) {
			t.Errorf("NamedPlaces(%q) = %q, want %q", tc.say, got, tc.want)
		}
	}
}

// NamedPlaces reads what a model wrote: any text, never a panic, and only
// names that the text holds.
func FuzzNamedPlaces(f *testing.F) {
	for _, s := range []string{"The Keep Tower is up the hill.", "Keep moving.", "관아에 고하겠습니다", "the the the", "\x00Keep"} {
		f.Add(s)
	}
	names := append(PlaceNames(English), PlaceNames(Korean)...)
	f.Fuzz(func(t *testing.T, say string) {
		for _, n := range NamedPlaces(say, names) {
			bare := strings.TrimPrefix(strings.TrimPrefix(n, "the "), "The ")
			if !slices.Contains(names, n) || !strings.Contains(say, bare) {
				t.Fatalf("NamedPlaces(%q) gave %q", say, n)
			}
		}
	})
}

// A mention is found as written or with a capital first letter, where a
// sentence opens with it, and MentionIndex says where.
func TestMentionIndex(t *testing.T) {
	for _, tc := range []struct {
		say, m string
		want   int
	}{
		{"Try the Stone Well.", "the Stone Well", 4},
		{"The Stone Well is up the hill.", "the Stone Well", 0},
		{"저기 돌우물이 있어.", "돌우물", 7},
		{"No such place.", "the Stone Well", -1},
		{"anything", "", 0},
	} {
		if got := MentionIndex(tc.say, tc.m); got != tc.want {
			t.Errorf("MentionIndex(%q, %q) = %d, want %d", tc.say, tc.m, got, tc.want)
		}
		if got := Mentions(tc.say, tc.m); got != (tc.want >= 0) {
			t.Errorf("Mentions(%q, %q) = %v, want %v", tc.say, tc.m, got, tc.want >= 0)
		}
	}
}
