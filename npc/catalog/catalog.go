// Package catalog loads and validates the action catalog: the one list of
// intents (actions and their argument kinds) and emotions that an NPC's
// decision may name. The corpus generator, the decision schema and the
// behaviour trees all read it, so they cannot drift apart.
//
// The catalog is JSON (assets/catalog/actions.json by default):
//
//	{"version": 1,
//	 "emotions": ["neutral", "happy", ...],
//	 "actions": [{"name": "give", "brief": "hand an item to someone",
//	              "description": "...", "targets": ["entity"],
//	              "item": "required", "subtree": "Action_give"}, ...]}
//
// An action with no target kinds takes no target; one with target kinds
// requires a target of one of them. "item" is "required", "optional" or
// absent (the action takes no item).
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"

	"github.com/anima-rt/anima/assets"
)

// TargetKind is what an action's target may be.
type TargetKind string

// The target kinds. An entity is anything that acts (a player, an NPC, a
// creature); an item can be carried; an object is a fixed thing in the world
// that can be used (a well, a bell); a place is a named location of the world.
const (
	Entity TargetKind = "entity"
	Place  TargetKind = "place"
	Item   TargetKind = "item"
	Object TargetKind = "object"
)

// targetKinds is logically constant: the kinds a catalog may name.
var targetKinds = map[TargetKind]bool{Entity: true, Place: true, Item: true, Object: true}

// ItemArg says whether an action takes an item argument.
type ItemArg string

// The item argument modes; the empty string means the action takes no item.
const (
	ItemNone     ItemArg = ""
	ItemRequired ItemArg = "required"
	ItemOptional ItemArg = "optional"
)

// Limits on a catalog read from outside, checked before anything is built.
const (
	MaxBytes   = 1 << 20
	MaxActions = 256
	MaxEmotion = 64
)

// Action is one intent a decision may name.
type Action struct {
	Name        string       `json:"name"`        // e.g. "go_to"; lower snake case
	Brief       string       `json:"brief"`       // a few words, for prompts and schemas
	Description string       `json:"description"` // for designers
	Targets     []TargetKind `json:"targets"`     // allowed target kinds; empty: no target
	Item        ItemArg      `json:"item,omitempty"`
	Subtree     string       `json:"subtree"` // behaviour subtree id, "Action_<name>"
}

// TakesTarget reports whether the action requires a target.
func (a Action) TakesTarget() bool { return len(a.Targets) > 0 }

// Allows reports whether a target of kind k is acceptable.
func (a Action) Allows(k TargetKind) bool { return slices.Contains(a.Targets, k) }

// Catalog is a validated action catalog. It is immutable once loaded and
// safe for concurrent use.
type Catalog struct {
	Version  int
	Emotions []string
	Actions  []Action // in file order
	byName   map[string]int
	emotions map[string]bool
}

// Action returns the action named name.
func (c *Catalog) Action(name string) (Action, bool) {
	i, ok := c.byName[name]
	if !ok {
		return Action{}, false
	}
	return c.Actions[i], true
}

// HasEmotion reports whether e is one of the catalog's emotions.
func (c *Catalog) HasEmotion(e string) bool { return c.emotions[e] }

// Names returns the action names in catalog order.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.Actions))
	for i, a := range c.Actions {
		names[i] = a.Name
	}
	return names
}

// fileFormat is the JSON shape of a catalog file.
type fileFormat struct {
	Version  int      `json:"version"`
	Emotions []string `json:"emotions"`
	Actions  []Action `json:"actions"`
}

// nameRE is the shape of action and emotion names: they are written by the
// model as JSON strings and by tree authors as subtree ids, so they stay
// plain lower snake case.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Parse reads and validates a catalog. Errors name the action and field at
// fault.
func Parse(data []byte) (*Catalog, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("catalog: parse: %d bytes exceeds the limit of %d", len(data), MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileFormat
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("catalog: parse: %w", err)
	}
	if dec.More() {
		return nil, errors.New("catalog: parse: trailing data after the catalog object")
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("catalog: parse: unsupported version %d (want 1)", f.Version)
	}
	if len(f.Actions) == 0 {
		return nil, errors.New("catalog: parse: no actions")
	}
	if len(f.Actions) > MaxActions {
		return nil, fmt.Errorf("catalog: parse: %d actions exceeds the limit of %d", len(f.Actions), MaxActions)
	}
	if len(f.Emotions) == 0 {
		return nil, errors.New("catalog: parse: no emotions")
	}
	if len(f.Emotions) > MaxEmotion {
		return nil, fmt.Errorf("catalog: parse: %d emotions exceeds the limit of %d", len(f.Emotions), MaxEmotion)
	}
	c := &Catalog{
		Version:  f.Version,
		Emotions: f.Emotions,
		Actions:  f.Actions,
		byName:   make(map[string]int, len(f.Actions)),
		emotions: make(map[string]bool, len(f.Emotions)),
	}
	for i, e := range f.Emotions {
		if !nameRE.MatchString(e) {
			return nil, fmt.Errorf("catalog: emotion %d: name %q is not lower snake case", i, e)
		}
		if c.emotions[e] {
			return nil, fmt.Errorf("catalog: emotion %q: listed twice", e)
		}
		c.emotions[e] = true
	}
	for i, a := range f.Actions {
		if err := checkAction(a); err != nil {
			return nil, fmt.Errorf("catalog: action %d (%q): %w", i, a.Name, err)
		}
		if j, dup := c.byName[a.Name]; dup {
			return nil, fmt.Errorf("catalog: action %d (%q): duplicate name (first at action %d)", i, a.Name, j)
		}
		c.byName[a.Name] = i
	}
	return c, nil
}

func checkAction(a Action) error {
	switch {
	case a.Name == "":
		return errors.New("missing name")
	case !nameRE.MatchString(a.Name):
		return fmt.Errorf("name %q is not lower snake case", a.Name)
	case a.Brief == "":
		return errors.New("missing brief")
	case a.Description == "":
		return errors.New("missing description")
	case a.Targets == nil:
		return errors.New(`missing targets (use [] for an action without a target)`)
	case a.Subtree == "":
		return errors.New("missing subtree")
	case a.Subtree != "Action_"+a.Name:
		return fmt.Errorf("subtree %q: want %q", a.Subtree, "Action_"+a.Name)
	}
	seen := map[TargetKind]bool{}
	for _, k := range a.Targets {
		if !targetKinds[k] {
			return fmt.Errorf("unknown target kind %q (want entity, place, item or object)", k)
		}
		if seen[k] {
			return fmt.Errorf("target kind %q listed twice", k)
		}
		seen[k] = true
	}
	switch a.Item {
	case ItemNone, ItemRequired, ItemOptional:
	default:
		return fmt.Errorf("item %q: want \"required\", \"optional\" or nothing", a.Item)
	}
	return nil
}

// Load reads and validates the catalog file name from fsys.
func Load(fsys fs.FS, name string) (*Catalog, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("catalog: load: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit so that Parse reports an oversized file
	// without this reading all of it.
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("catalog: load %s: %w", name, err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, name)
	}
	return c, nil
}

// Default loads the embedded catalog, assets/catalog/actions.json. Each call
// parses afresh; callers keep the result.
func Default() (*Catalog, error) {
	return Load(assets.Catalog(), "actions.json")
}
