package mind

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/behavior"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/npc/persona"
)

// Assets are the designer's files a Host runs on: the action catalog, the
// behaviour trees, and the personas and worlds, cross-checked against each
// other.
type Assets struct {
	Catalog *catalog.Catalog
	Trees   *behavior.Library
	// TreeIDs maps a persona's tree name (a role file's main tree, lower
	// case: "merchant") to its BehaviorTree ID ("Merchant").
	TreeIDs map[string]string
	Set     *persona.Set
	Known   persona.Known
}

// LoadAssets reads the catalog, every tree file (*.xml) of trees, and the
// personas and worlds, and checks that each persona names a known tree and
// catalog actions.
func LoadAssets(cat *catalog.Catalog, trees, personas, worlds fs.FS) (*Assets, error) {
	names := map[string]bool{}
	for _, a := range cat.Actions {
		names[a.Name] = true
	}
	lib := behavior.NewLibrary(behavior.Options{Include: behavior.IncludeFS(trees)})
	if err := lib.AddFS(trees, "*.xml"); err != nil {
		return nil, fmt.Errorf("mind: load trees: %w", err)
	}
	files, err := fs.Glob(trees, "*.xml")
	if err != nil {
		return nil, fmt.Errorf("mind: load trees: %w", err)
	}
	a := &Assets{Catalog: cat, Trees: lib, TreeIDs: map[string]string{}}
	for _, f := range files {
		main := lib.Main(f)
		if main == "" || strings.HasPrefix(main, "Action_") || main == "Pursue" {
			continue // actions.xml: subtrees, not a role
		}
		if _, err := lib.Tree(main); err != nil {
			return nil, fmt.Errorf("mind: tree %s: %w", f, err)
		}
		a.TreeIDs[strings.ToLower(main)] = main
		a.Known.Trees = append(a.Known.Trees, strings.ToLower(main))
	}
	a.Known.Catalog = cat
	if a.Set, err = persona.LoadFS(personas, worlds, a.Known); err != nil {
		return nil, fmt.Errorf("mind: %w", err)
	}
	return a, nil
}

// DefaultAssets loads the embedded assets (package assets).
func DefaultAssets() (*Assets, error) {
	cat, err := catalog.Default()
	if err != nil {
		return nil, fmt.Errorf("mind: %w", err)
	}
	return LoadAssets(cat, assets.Trees(), assets.Personas(), assets.Worlds())
}
