package catalog

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestDefaultMatchesTrees pins the embedded catalog to the action names and
// target kinds that the behaviour trees implement as Action_<name> subtrees.
func TestDefaultMatchesTrees(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("Default() error: %v", err)
	}
	want := []struct {
		name    string
		targets []TargetKind
		item    ItemArg
	}{
		{"idle", nil, ItemNone},
		{"wander", nil, ItemNone},
		{"go_to", []TargetKind{Place}, ItemNone},
		{"follow", []TargetKind{Entity}, ItemNone},
		{"flee", []TargetKind{Entity}, ItemNone},
		{"attack", []TargetKind{Entity}, ItemNone},
		{"guard", []TargetKind{Entity, Place}, ItemNone},
		{"give", []TargetKind{Entity}, ItemRequired},
		{"pick_up", []TargetKind{Item}, ItemNone},
		{"trade", []TargetKind{Entity}, ItemRequired},
		{"call_guard", []TargetKind{Entity}, ItemNone},
		{"greet", []TargetKind{Entity}, ItemNone},
		{"point_to", []TargetKind{Place, Entity}, ItemNone},
		{"use_object", []TargetKind{Object}, ItemNone},
		{"repair", []TargetKind{Item, Entity}, ItemNone},
		{"heal", []TargetKind{Entity}, ItemNone},
		{"rest", nil, ItemNone},
		{"work", nil, ItemNone},
		{"patrol", nil, ItemNone},
		{"hide", nil, ItemNone},
		{"warn", []TargetKind{Entity}, ItemNone},
		{"leave", nil, ItemNone},
	}
	if len(c.Actions) != len(want) {
		t.Errorf("Default() has %d actions %v; want %d", len(c.Actions), c.Names(), len(want))
	}
	for _, w := range want {
		a, ok := c.Action(w.name)
		if !ok {
			t.Errorf("Action(%q) missing", w.name)
			continue
		}
		got := slices.Clone(a.Targets)
		slices.Sort(got)
		wt := slices.Clone(w.targets)
		slices.Sort(wt)
		if !slices.Equal(got, wt) {
			t.Errorf("Action(%q).Targets = %v; want %v", w.name, a.Targets, w.targets)
		}
		if a.Item != w.item {
			t.Errorf("Action(%q).Item = %q; want %q", w.name, a.Item, w.item)
		}
		if a.Subtree != "Action_"+w.name {
			t.Errorf("Action(%q).Subtree = %q; want %q", w.name, a.Subtree, "Action_"+w.name)
		}
	}
	for _, e := range []string{"neutral", "happy", "sad", "angry", "afraid", "wary", "surprised", "grateful", "amused", "disgusted"} {
		if !c.HasEmotion(e) {
			t.Errorf("HasEmotion(%q) = false; want true", e)
		}
	}
	if c.HasEmotion("ecstatic") {
		t.Errorf("HasEmotion(%q) = true; want false", "ecstatic")
	}
}

const okAction = `{"name":"idle","brief":"b","description":"d","targets":[],"subtree":"Action_idle"}`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", ``, "EOF"},
		{"not json", `{`, "unexpected EOF"},
		{"version", `{"version":2,"emotions":["neutral"],"actions":[` + okAction + `]}`, "unsupported version 2"},
		{"no actions", `{"version":1,"emotions":["neutral"],"actions":[]}`, "no actions"},
		{"no emotions", `{"version":1,"actions":[` + okAction + `]}`, "no emotions"},
		{"unknown field", `{"version":1,"emotions":["neutral"],"actions":[` + okAction + `],"extra":1}`, `unknown field "extra"`},
		{"trailing", `{"version":1,"emotions":["neutral"],"actions":[` + okAction + `]} {}`, "trailing data"},
		{"duplicate action", `{"version":1,"emotions":["neutral"],"actions":[` + okAction + `,` + okAction + `]}`, `action 1 ("idle"): duplicate name (first at action 0)`},
		{"duplicate emotion", `{"version":1,"emotions":["neutral","neutral"],"actions":[` + okAction + `]}`, `emotion "neutral": listed twice`},
		{"bad emotion", `{"version":1,"emotions":["Very Happy"],"actions":[` + okAction + `]}`, `emotion 0: name "Very Happy" is not lower snake case`},
		{"missing name", `{"version":1,"emotions":["neutral"],"actions":[{"brief":"b","description":"d","targets":[],"subtree":"Action_"}]}`, "missing name"},
		{"bad name", `{"version":1,"emotions":["neutral"],"actions":[{"name":"Go To","brief":"b","description":"d","targets":[],"subtree":"Action_Go To"}]}`, `name "Go To" is not lower snake case`},
		{"missing brief", `{"version":1,"emotions":["neutral"],"actions":[{"name":"idle","description":"d","targets":[],"subtree":"Action_idle"}]}`, "missing brief"},
		{"missing description", `{"version":1,"emotions":["neutral"],"actions":[{"name":"idle","brief":"b","targets":[],"subtree":"Action_idle"}]}`, "missing description"},
		{"missing targets", `{"version":1,"emotions":["neutral"],"actions":[{"name":"idle","brief":"b","description":"d","subtree":"Action_idle"}]}`, "missing targets"},
		{"missing subtree", `{"version":1,"emotions":["neutral"],"actions":[{"name":"idle","brief":"b","description":"d","targets":[]}]}`, "missing subtree"},
		{"wrong subtree", `{"version":1,"emotions":["neutral"],"actions":[{"name":"idle","brief":"b","description":"d","targets":[],"subtree":"Idle"}]}`, `subtree "Idle": want "Action_idle"`},
		{"unknown kind", `{"version":1,"emotions":["neutral"],"actions":[{"name":"go_to","brief":"b","description":"d","targets":["planet"],"subtree":"Action_go_to"}]}`, `action 0 ("go_to"): unknown target kind "planet"`},
		{"kind twice", `{"version":1,"emotions":["neutral"],"actions":[{"name":"go_to","brief":"b","description":"d","targets":["place","place"],"subtree":"Action_go_to"}]}`, `target kind "place" listed twice`},
		{"bad item", `{"version":1,"emotions":["neutral"],"actions":[{"name":"give","brief":"b","description":"d","targets":["entity"],"item":"maybe","subtree":"Action_give"}]}`, `item "maybe"`},
		{"too big", `{"version":1,` + strings.Repeat(" ", MaxBytes) + `}`, "exceeds the limit"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse(...) error = %v; want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	fsys := fstest.MapFS{"bad.json": {Data: []byte(`{"version":1,"emotions":["neutral"],"actions":[]}`)}}
	_, err := Load(fsys, "bad.json")
	if err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("Load(bad.json) error = %v; want one naming bad.json", err)
	}
	fsys["big.json"] = &fstest.MapFile{Data: []byte(strings.Repeat(" ", 2*MaxBytes))}
	if _, err := Load(fsys, "big.json"); err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("Load(big.json) error = %v; want one about the size limit", err)
	}
	if _, err := Load(fsys, "missing.json"); err == nil {
		t.Errorf("Load(missing.json) error = nil; want an error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":1,"emotions":["neutral"],"actions":[` + okAction + `]}`))
	f.Add([]byte(`{"version":1,"emotions":["a","b"],"actions":[{"name":"give","brief":"b","description":"d","targets":["entity","item"],"item":"required","subtree":"Action_give"}]}`))
	f.Add([]byte(`{"version":1,"actions":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		// A catalog that parses is internally consistent.
		for _, a := range c.Actions {
			got, ok := c.Action(a.Name)
			if !ok || got.Name != a.Name {
				t.Fatalf("Action(%q) = %v, %v after a successful Parse", a.Name, got, ok)
			}
			for _, k := range a.Targets {
				if !targetKinds[k] {
					t.Fatalf("action %q kept unknown target kind %q", a.Name, k)
				}
			}
		}
		for _, e := range c.Emotions {
			if !c.HasEmotion(e) {
				t.Fatalf("HasEmotion(%q) = false for a listed emotion", e)
			}
		}
	})
}
