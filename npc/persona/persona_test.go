package persona

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/behavior"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/protocol"
)

// known returns the real catalog and the lower-cased main trees of the tree
// files in assets/trees/, as the server derives them.
func known(t testing.TB) Known {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	fsys := os.DirFS("../../assets/trees")
	lib := behavior.NewLibrary(behavior.Options{Include: behavior.IncludeFS(fsys)})
	if err := lib.AddFS(fsys, "*.xml"); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(fsys, "*.xml")
	var trees []string
	for _, n := range names {
		if n == "actions.xml" {
			continue
		}
		trees = append(trees, strings.ToLower(lib.Main(n)))
	}
	if len(trees) < 6 {
		t.Fatalf("main trees = %v; want the six roles", trees)
	}
	return Known{Catalog: cat, Trees: trees}
}

// TestEmbeddedSet: the shipped personas and worlds load, cross-check, and
// cover the demo: at least 8 personas, 2 of them Korean, every main tree.
func TestEmbeddedSet(t *testing.T) {
	k := known(t)
	s, err := LoadFS(assets.Personas(), assets.Worlds(), k)
	if err != nil {
		t.Fatalf("LoadFS(assets) = %v", err)
	}
	if len(s.Personas) < 8 {
		t.Errorf("%d personas; want at least 8", len(s.Personas))
	}
	ko, trees := 0, map[string]bool{}
	for _, p := range s.Personas {
		if p.Language == Korean {
			ko++
		}
		trees[p.Tree] = true
		if p.World == "" {
			t.Errorf("persona %s names no world", p.ID)
		}
	}
	if ko < 2 {
		t.Errorf("%d Korean personas; want at least 2", ko)
	}
	for _, tr := range k.Trees {
		if !trees[tr] {
			t.Errorf("no persona runs tree %q", tr)
		}
	}
	if s.Worlds["oakvale"] == nil || s.Worlds["beodeulgol"] == nil {
		t.Errorf("worlds = %v; want oakvale and beodeulgol", s.Worlds)
	}
	b := s.Personas["brannoc"].Prompt()
	if b.Name != "Brannoc" || b.Role != "blacksmith" || len(b.Knows) == 0 || len(b.Actions) == 0 {
		t.Errorf("brannoc.Prompt() = %+v", b)
	}
	// Actions come out in catalog order whatever the file's order.
	if got, want := b.Actions, k.Catalog.Names(); !isSubsequence(got, want) {
		t.Errorf("brannoc actions %v are not in catalog order %v", got, want)
	}
	l := s.Worlds["oakvale"].Prompt()
	if l.Name != "Oakvale" || len(l.Places) == 0 || l.Places[0].ID != "l1" {
		t.Errorf("oakvale.Prompt() = %+v", l)
	}
}

func isSubsequence(xs, of []string) bool {
	i := 0
	for _, x := range xs {
		for i < len(of) && of[i] != x {
			i++
		}
		if i == len(of) {
			return false
		}
		i++
	}
	return true
}

const good = `{"name": "Brannoc", "role": "blacksmith", "language": "en",
 "traits": ["gruff"], "speech": "short", "goals": ["work"], "knowledge": ["ore"],
 "relationships": [{"with": "selka", "trust": 0.5, "affinity": -0.2}, {"kind": "player", "trust": 0, "affinity": 0}],
 "tree": "merchant", "actions": ["trade", "greet", "idle"]}`

// edit returns good with old replaced by new, failing if old is absent.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(good, old) {
		t.Fatalf("edit: %q not in the good persona", old)
	}
	return strings.Replace(good, old, new, 1)
}

// TestParseErrors: each broken file is an error naming the file and field.
func TestParseErrors(t *testing.T) {
	k := known(t)
	if _, err := Parse("brannoc.json", []byte(good), k); err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	tests := []struct {
		name, file, data string
		field, msg       string
	}{
		{"empty name", "brannoc.json", edit(t, `"name": "Brannoc"`, `"name": " "`), "name", "blank"},
		{"missing name", "brannoc.json", edit(t, `"name": "Brannoc", `, ``), "name", "missing"},
		{"unknown tree", "brannoc.json", edit(t, `"merchant"`, `"dragon"`), "tree", `"dragon" is not a known tree`},
		{"missing tree", "brannoc.json", edit(t, `"tree": "merchant", `, ``), "tree", "missing"},
		{"action not in catalog", "brannoc.json", edit(t, `"greet"`, `"fly"`), "actions[1]", `"fly" is not in the action catalog`},
		{"duplicate action", "brannoc.json", edit(t, `"greet"`, `"trade"`), "actions[1]", "listed twice"},
		{"no actions", "brannoc.json", edit(t, `["trade", "greet", "idle"]`, `[]`), "actions", "missing"},
		{"self relationship", "brannoc.json", edit(t, `"with": "selka"`, `"with": "brannoc"`), "relationships[0].with", "itself"},
		{"both with and kind", "brannoc.json", edit(t, `"with": "selka",`, `"with": "selka", "kind": "npc",`), "relationships[0]", "both"},
		{"nobody", "brannoc.json", edit(t, `"with": "selka",`, ``), "relationships[0]", "names nobody"},
		{"bad kind", "brannoc.json", edit(t, `"kind": "player"`, `"kind": "dragon"`), "relationships[1].kind", "not one of"},
		{"trust out of range", "brannoc.json", edit(t, `"trust": 0.5`, `"trust": 1.5`), "relationships[0].trust", "outside [-1, 1]"},
		{"duplicate relationship", "brannoc.json", edit(t, `{"kind": "player"`, `{"with": "selka"`), "relationships[1]", "repeats relationships[0]"},
		{"bad language", "brannoc.json", edit(t, `"en"`, `"fr"`), "language", "not supported"},
		{"id disagrees", "brannoc.json", edit(t, `{"name"`, `{"id": "selka", "name"`), "id", "disagrees"},
		{"bad file stem", "Brannoc Smith.json", good, "id", "not a lower snake case id"},
		{"unknown key", "brannoc.json", edit(t, `"role"`, `"rank": 1, "role"`), "", "unknown field"},
		{"control character", "brannoc.json", edit(t, `"short"`, `"sh\u0007ort"`), "speech", "control character"},
		{"huge trait list", "brannoc.json", edit(t, `["gruff"]`, `[`+strings.Repeat(`"a",`, MaxTraits)+`"a"]`), "traits", "exceeds the limit"},
		{"line break in a trait", "brannoc.json", edit(t, `["gruff"]`, `["gru\nff"]`), "traits[0]", "line break"},
		{"blank goal", "brannoc.json", edit(t, `["work"]`, `["work", ""]`), "goals[1]", "blank"},
		{"long name", "brannoc.json", edit(t, `"Brannoc"`, `"`+strings.Repeat("B", MaxNameBytes+1)+`"`), "name", "exceeds the limit"},
		{"trailing data", "brannoc.json", good + `{}`, "", "trailing data"},
		{"not json", "brannoc.json", `name: Brannoc`, "", "invalid character"},
		{"huge file", "brannoc.json", strings.Repeat(" ", MaxFileBytes+1), "", "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.file, []byte(tt.data), k)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%s) = %v; want a *FieldError", tt.name, err)
			}
			if fe.File != tt.file || fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("Parse(%s) = %v; want file %q, field %q, message containing %q", tt.name, err, tt.file, tt.field, tt.msg)
			}
		})
	}
}

// TestLoadFSCrossChecks: problems between files are reported, all of them.
func TestLoadFSCrossChecks(t *testing.T) {
	k := known(t)
	personas := fstest.MapFS{
		"brannoc.json": {Data: []byte(strings.Replace(good, `"language": "en"`, `"language": "en", "world": "oakvale"`, 1))},
		"selka.json":   {Data: []byte(strings.NewReplacer(`"selka"`, `"ghost"`, `"Brannoc"`, `"Selka"`, `"language": "en"`, `"language": "ko", "world": "oakvale"`).Replace(good))},
		"broken.json":  {Data: []byte(`{`)},
		"notes.txt":    {Data: []byte(`ignored`)},
	}
	worlds := fstest.MapFS{"oakvale.json": {Data: []byte(`{"name": "Oakvale", "language": "en", "lore": "A river town.", "places": [{"id": "l1", "name": "The Anchor"}]}`)}}
	_, err := LoadFS(personas, worlds, k)
	if err == nil {
		t.Fatal("LoadFS = nil; want errors")
	}
	for _, want := range []string{
		"persona: broken.json: unexpected EOF",
		`persona: selka.json: relationships[0].with: "ghost" is not a persona of this set`,
		`persona: selka.json: language: "ko" contradicts world "oakvale", which is "en"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("LoadFS error\n%v\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "brannoc.json") {
		t.Errorf("LoadFS blames brannoc.json, which is fine:\n%v", err)
	}
}

func TestParseWorldErrors(t *testing.T) {
	tests := []struct{ data, field, msg string }{
		{`{"name": "", "language": "en", "lore": "x"}`, "name", "blank"},
		{`{"name": "O", "language": "en", "lore": ""}`, "lore", "blank"},
		{`{"name": "O", "language": "xx", "lore": "x"}`, "language", "not supported"},
		{`{"name": "O", "language": "en", "lore": "x", "places": [{"id": "l1", "name": "A"}, {"id": "l1", "name": "B"}]}`, "places[1].id", "repeats places[0]"},
		{`{"name": "O", "language": "en", "lore": "x", "places": [{"id": "l 1", "name": "A"}]}`, "places[0].id", "not a short id"},
		{`{"name": "O", "language": "en", "lore": "x", "places": [{"id": "l1", "name": ""}]}`, "places[0].name", "blank"},
	}
	for _, tt := range tests {
		_, err := ParseWorld("w.json", []byte(tt.data))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("ParseWorld(%q) = %v; want field %q with %q", tt.data, err, tt.field, tt.msg)
		}
	}
}

func TestFromSpawn(t *testing.T) {
	k := known(t)
	base, err := Parse("brannoc.json", []byte(good), k)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("named persona with overrides", func(t *testing.T) {
		p, err := FromSpawn("n1", &protocol.Spawn{Persona: "brannoc", Tree: "guard", Actions: []string{"greet"},
			Character: &protocol.Character{Name: "Old Brannoc", Style: "mumbles"}}, base, k)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != "brannoc" || p.Name != "Old Brannoc" || p.Speech != "mumbles" || p.Role != "blacksmith" || p.Tree != "guard" || !slices.Equal(p.Actions, []string{"greet"}) {
			t.Errorf("FromSpawn = %+v", p)
		}
		if base.Name != "Brannoc" || len(base.Actions) != 3 {
			t.Errorf("FromSpawn changed its base: %+v", base)
		}
	})
	t.Run("inline Korean character", func(t *testing.T) {
		p, err := FromSpawn("NPC-7", &protocol.Spawn{Character: &protocol.Character{Name: "복순", Role: "떡장수", Description: "장터에서 떡을 판다."}}, nil, k)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != "npc_7" || p.Language != Korean || p.Tree != DefaultTree || len(p.Actions) != len(k.Catalog.Actions) || p.Backstory == "" {
			t.Errorf("FromSpawn = %+v", p)
		}
	})
	errTests := []struct {
		name  string
		s     protocol.Spawn
		base  *Persona
		field string
		msg   string
	}{
		{"unknown persona", protocol.Spawn{Persona: "ghost"}, nil, "persona", `"ghost" is not a known persona`},
		{"nothing", protocol.Spawn{}, nil, "persona", "neither"},
		{"unknown tree", protocol.Spawn{Persona: "brannoc", Tree: "dragon"}, base, "tree", "not a known tree"},
		{"action outside catalog", protocol.Spawn{Persona: "brannoc", Actions: []string{"fly"}}, base, "actions[0]", "not in the action catalog"},
		{"action outside persona", protocol.Spawn{Persona: "brannoc", Actions: []string{"greet", "attack"}}, base, "actions[1]", "not among the persona's actions"},
		{"blank inline name", protocol.Spawn{Character: &protocol.Character{Name: "  "}}, nil, "character.name", "blank"},
	}
	for _, tt := range errTests {
		_, err := FromSpawn("n1", &tt.s, tt.base, k)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.File != "spawn" || fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("FromSpawn(%s) = %v; want spawn field %q with %q", tt.name, err, tt.field, tt.msg)
		}
	}
}

func TestWorldFromMessage(t *testing.T) {
	w, err := WorldFromMessage(&protocol.World{WorldID: "x", Lore: "강가의 마을."}, nil)
	if err != nil || w.Language != Korean || w.Lore != "강가의 마을." {
		t.Errorf("WorldFromMessage(ko) = %+v, %v", w, err)
	}
	base := &World{ID: "oakvale", Name: "Oakvale", Language: English, Lore: "old", Places: []Place{{ID: "l1", Name: "A"}}}
	w, err = WorldFromMessage(&protocol.World{WorldID: "oakvale", Lore: "new"}, base)
	if err != nil || w.Name != "Oakvale" || w.Lore != "new" || len(w.Places) != 1 || base.Lore != "old" {
		t.Errorf("WorldFromMessage(base) = %+v, %v", w, err)
	}
	if _, err := WorldFromMessage(&protocol.World{Lore: ""}, nil); err == nil {
		t.Error("WorldFromMessage(empty lore) = nil error")
	}
}

// FuzzParse: no input panics, and whatever parses passes its own checks and
// renders.
func FuzzParse(f *testing.F) {
	k := known(f)
	f.Add([]byte(good))
	f.Add([]byte(`{"name":"x","language":"ko","tree":"child","actions":["idle"],"relationships":[{"kind":"npc","trust":-1,"affinity":1}]}`))
	f.Add([]byte(`{"name":"x","traits":[null],"actions":["idle"]}`))
	f.Add([]byte(`{"name":"\ud800","language":"en","tree":"guard","actions":["idle"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.json", data, k)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error %v is not a *FieldError", err)
			}
			return
		}
		if err := p.check("fuzz.json", k); err != nil {
			t.Fatalf("parsed persona fails its own check: %v", err)
		}
		_ = p.Prompt()
		if _, err := ParseWorld("fuzz.json", data); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseWorld error %v is not a *FieldError", err)
			}
		}
	})
}

func TestSetSpawn(t *testing.T) {
	k := known(t)
	s, err := LoadFS(assets.Personas(), assets.Worlds(), k)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Spawn("suni", &protocol.Spawn{Persona: "suni"}, k)
	if err != nil || p.Name != "순이" || p.Tree != "child" {
		t.Errorf("Spawn(suni) = %+v, %v", p, err)
	}
	_, err = s.Spawn("x", &protocol.Spawn{Persona: "nobody"}, k)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "persona" || !strings.Contains(fe.Msg, "brannoc") {
		t.Errorf("Spawn(nobody) = %v; want a persona error listing the known ones", err)
	}
}
