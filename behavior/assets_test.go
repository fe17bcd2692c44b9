package behavior

import (
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

// loadAssetLibrary loads every tree file in assets/trees/, as the server does.
func loadAssetLibrary(t testing.TB) (*Library, []string) {
	t.Helper()
	fsys := os.DirFS("../assets/trees")
	lib := NewLibrary(Options{Include: IncludeFS(fsys)})
	if err := lib.AddFS(fsys, "*.xml"); err != nil {
		t.Fatalf("AddFS(assets/trees):\n%v", err)
	}
	names, _ := fs.Glob(fsys, "*.xml")
	if len(names) < 7 {
		t.Fatalf("assets/trees has %d tree files; want actions.xml and six roles", len(names))
	}
	return lib, names
}

// TestAssetTrees: every tree of every file in assets/trees/ compiles, and
// each role's main tree asks for decisions and pursues goals.
func TestAssetTrees(t *testing.T) {
	lib, files := loadAssetLibrary(t)
	for _, f := range files {
		for _, id := range lib.TreesIn(f) {
			if _, err := lib.Tree(id); err != nil {
				t.Errorf("Tree(%q) from %s:\n%v", id, f, err)
			}
		}
	}
	for _, role := range []string{"merchant", "guard", "farmer", "child", "innkeeper", "wanderer"} {
		f := role + ".xml"
		main := lib.Main(f)
		if main == "" {
			t.Errorf("%s has no main tree", f)
			continue
		}
		tree, err := lib.Tree(main)
		if err != nil {
			t.Errorf("Tree(%q): %v", main, err)
			continue
		}
		var think, pursue bool
		for i := 0; i < tree.Len(); i++ {
			switch tree.Node(i).Type {
			case "Think":
				think = true
			case "SubTree Pursue":
				pursue = true
			}
		}
		if !think || !pursue {
			t.Errorf("%s: Think %v, Pursue %v; want both", f, think, pursue)
		}
	}
}

// nullGame accepts acts and thoughts and records the last act's name.
type nullGame struct{ last string }

func (g *nullGame) Act(npc string, id uint64, name string, args []Arg) { g.last = name }
func (g *nullGame) Cancel(npc string, id uint64, reason string)        {}
func (g *nullGame) Think(npc string, reason string)                    {}

// TestCatalogActionsHaveSubtrees: every action in the shared catalog
// (assets/catalog/actions.json) names a subtree that exists, and setting it
// as a role's goal runs that subtree.
func TestCatalogActionsHaveSubtrees(t *testing.T) {
	data, err := os.ReadFile("../assets/catalog/actions.json")
	if err != nil {
		t.Skipf("no catalog: %v", err)
	}
	var cat struct {
		Actions []struct {
			Name    string `json:"name"`
			Subtree string `json:"subtree"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(data, &cat); err != nil {
		t.Fatal(err)
	}
	lib, _ := loadAssetLibrary(t)
	tree, err := lib.Tree(lib.Main("merchant.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cat.Actions {
		if _, err := lib.Tree(a.Subtree); err != nil {
			t.Errorf("action %q: subtree %q: %v", a.Name, a.Subtree, err)
			continue
		}
		g := &nullGame{}
		in := NewInstance(tree, "npc1", g, g)
		for k, v := range map[string]string{"goal": a.Name, "target": "p1", "item": "bread"} {
			if err := in.Set(k, String(v)); err != nil {
				t.Fatal(err)
			}
		}
		if s := in.Tick(time.Unix(0, 0)); s != Running {
			t.Errorf("goal %q: Tick = %v; want RUNNING", a.Name, s)
		}
		var active []string
		for _, i := range in.AppendActive(nil) {
			active = append(active, tree.Node(i).Type)
		}
		path := strings.Join(active, " > ")
		if !strings.Contains(path, "SubTree "+a.Subtree) {
			t.Errorf("goal %q: active path %s; want it to run %s", a.Name, path, a.Subtree)
		}
	}
}

// TestLibrarySharesTrees: asking twice for a tree gives the same Tree, so
// every NPC of a role shares one; adding a file forgets compiled trees.
func TestLibrarySharesTrees(t *testing.T) {
	lib, _ := loadAssetLibrary(t)
	a, err := lib.Tree("Guard")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := lib.Tree("Guard"); a != b {
		t.Errorf("Tree(Guard) twice gave two trees; want one shared")
	}
	if err := lib.Add("extra.xml", []byte(`<root BTCPP_format="4"><BehaviorTree ID="Extra"><Wander/></BehaviorTree></root>`)); err != nil {
		t.Fatal(err)
	}
	if c, _ := lib.Tree("Guard"); c == a {
		t.Errorf("Tree(Guard) after Add returned the old tree")
	}
}
