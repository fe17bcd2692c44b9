package persona

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/protocol"
)

// Limits on a persona read from outside, checked before anything is built.
// Text limits are in bytes and match the protocol's where a field also
// arrives inline in a spawn message.
const (
	MaxFileBytes      = 64 << 10
	MaxNameBytes      = protocol.MaxNameBytes // name, role, a trait, language, tree
	MaxIDBytes        = 32                    // persona and world ids
	MaxSpeechBytes    = protocol.MaxTextBytes
	MaxBackstoryBytes = protocol.MaxDescriptionBytes
	MaxLineBytes      = protocol.MaxTextBytes // one goal, one known fact, a relationship note
	MaxTraits         = 16
	MaxGoals          = 16
	MaxKnowledge      = 64
	MaxRelationships  = 64
)

// Languages a persona may speak; the embedded model was trained on these.
const (
	English = "en"
	Korean  = "ko"
)

// DefaultTree is the tree of an inline character spawned without a tree or
// a named persona: it wanders and answers when spoken to.
const DefaultTree = "wanderer"

// Persona is a validated NPC definition. It is immutable once built; share it.
type Persona struct {
	ID            string         // file stem, e.g. "brannoc"; lower snake case
	Name          string         // e.g. "Brannoc"
	Role          string         // e.g. "blacksmith"
	Language      string         // English or Korean
	World         string         // world id it belongs to; empty: any
	Traits        []string       // e.g. "gruff", "honest"
	Speech        string         // speech style
	Backstory     string         // prose
	Goals         []string       // what it wants
	Knowledge     []string       // facts beyond the world lore
	Relationships []Relationship // starting feelings toward others
	Tree          string         // main behaviour tree, e.g. "merchant"
	Actions       []string       // catalog actions it may use, in catalog order
}

// Relationship is a starting feeling toward another persona (With) or toward
// every entity of a kind (Kind, e.g. "player"); exactly one is set.
type Relationship struct {
	With     string  `json:"with,omitempty"` // persona id
	Kind     string  `json:"kind,omitempty"` // entity kind: player, npc, creature
	Trust    float64 `json:"trust"`          // in [-1, 1]
	Affinity float64 `json:"affinity"`       // in [-1, 1]
	Note     string  `json:"note,omitempty"` // e.g. "old friend; owes you 3 silver"
}

// Known is what a persona is checked against: the action catalog and the
// names of the main behaviour trees (lower case, e.g. "merchant").
type Known struct {
	Catalog *catalog.Catalog
	Trees   []string
}

// FieldError is a validation error naming the file and field at fault.
type FieldError struct {
	File  string // file name, or "spawn" for an inline persona
	Field string // e.g. "actions[2]", "relationships[0].trust"
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("persona: %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("persona: %s: %s: %s", e.File, e.Field, e.Msg)
}

// fileFormat is the JSON shape of a persona file; pointers tell a missing
// key from an empty one.
type fileFormat struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Role          string         `json:"role"`
	Language      string         `json:"language"`
	World         string         `json:"world"`
	Traits        []string       `json:"traits"`
	Speech        string         `json:"speech"`
	Backstory     string         `json:"backstory"`
	Goals         []string       `json:"goals"`
	Knowledge     []string       `json:"knowledge"`
	Relationships []Relationship `json:"relationships"`
	Tree          string         `json:"tree"`
	Actions       []string       `json:"actions"`
}

// idRE is the shape of persona and world ids: file stems that also travel as
// spawn.persona, so plain lower snake case.
var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Parse reads and validates one persona file. file names it in errors; its
// stem (without directory and ".json") is the persona's id, and an "id" key,
// when present, must agree. Every error is a *FieldError.
func Parse(file string, data []byte, k Known) (*Persona, error) {
	bad := func(field, format string, args ...any) error {
		return &FieldError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxFileBytes {
		return nil, bad("", "%d bytes exceeds the limit of %d", len(data), MaxFileBytes)
	}
	if !utf8.Valid(data) {
		return nil, bad("", "not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileFormat
	if err := dec.Decode(&f); err != nil {
		return nil, bad("", "%v", err)
	}
	if dec.More() {
		return nil, bad("", "trailing data after the persona object")
	}
	id := stem(file)
	switch {
	case f.ID != "" && f.ID != id:
		return nil, bad("id", "%q disagrees with the file name (want %q)", f.ID, id)
	case !idRE.MatchString(id):
		return nil, bad("id", "file stem %q is not a lower snake case id of at most 32 bytes", id)
	}
	p := &Persona{
		ID: id, Name: f.Name, Role: f.Role, Language: f.Language, World: f.World,
		Traits: f.Traits, Speech: f.Speech, Backstory: f.Backstory, Goals: f.Goals,
		Knowledge: f.Knowledge, Relationships: f.Relationships, Tree: f.Tree, Actions: f.Actions,
	}
	if len(p.Actions) == 0 {
		return nil, bad("actions", "missing: list the catalog actions this persona may use")
	}
	if err := p.check(file, k); err != nil {
		return nil, err
	}
	return p, nil
}

// check validates every field; file names the source in errors.
func (p *Persona) check(file string, k Known) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if err := line("name", p.Name, MaxNameBytes, true); err != nil {
		return bad("name", "%v", err)
	}
	if err := line("role", p.Role, MaxNameBytes, false); err != nil {
		return bad("role", "%v", err)
	}
	switch p.Language {
	case English, Korean:
	case "":
		return bad("language", `missing (want "en" or "ko")`)
	default:
		return bad("language", `%q is not supported (want "en" or "ko")`, p.Language)
	}
	if p.World != "" && !idRE.MatchString(p.World) {
		return bad("world", "%q is not a lower snake case id", p.World)
	}
	if err := list("traits", p.Traits, MaxTraits, MaxNameBytes); err != nil {
		return bad(err.field, "%s", err.msg)
	}
	if err := line("speech", p.Speech, MaxSpeechBytes, false); err != nil {
		return bad("speech", "%v", err)
	}
	if err := text("backstory", p.Backstory, MaxBackstoryBytes, false); err != nil {
		return bad("backstory", "%v", err)
	}
	if err := list("goals", p.Goals, MaxGoals, MaxLineBytes); err != nil {
		return bad(err.field, "%s", err.msg)
	}
	if err := list("knowledge", p.Knowledge, MaxKnowledge, MaxLineBytes); err != nil {
		return bad(err.field, "%s", err.msg)
	}
	if len(p.Relationships) > MaxRelationships {
		return bad("relationships", "%d entries exceeds the limit of %d", len(p.Relationships), MaxRelationships)
	}
	seen := map[string]int{}
	for i, r := range p.Relationships {
		f := fmt.Sprintf("relationships[%d]", i)
		key := "with:" + r.With
		switch {
		case r.With == "" && r.Kind == "":
			return bad(f, `names nobody: set "with" (a persona id) or "kind" (player, npc, creature)`)
		case r.With != "" && r.Kind != "":
			return bad(f, `sets both "with" and "kind"; a relationship is to one persona or to one kind`)
		case r.With != "" && !idRE.MatchString(r.With):
			return bad(f+".with", "%q is not a persona id", r.With)
		case r.With != "" && r.With == p.ID:
			return bad(f+".with", "a persona cannot have a relationship with itself")
		case r.Kind != "" && !slices.Contains(relationKinds, r.Kind):
			return bad(f+".kind", "%q is not one of %s", r.Kind, strings.Join(relationKinds, ", "))
		}
		if r.Kind != "" {
			key = "kind:" + r.Kind
		}
		if j, dup := seen[key]; dup {
			return bad(f, "repeats relationships[%d]", j)
		}
		seen[key] = i
		for _, v := range []struct {
			name string
			x    float64
		}{{"trust", r.Trust}, {"affinity", r.Affinity}} {
			if math.IsNaN(v.x) || v.x < -1 || v.x > 1 {
				return bad(f+"."+v.name, "%v is outside [-1, 1]", v.x)
			}
		}
		if err := line("note", r.Note, MaxLineBytes, false); err != nil {
			return bad(f+".note", "%v", err)
		}
	}
	switch {
	case p.Tree == "":
		return bad("tree", "missing (want one of %s)", strings.Join(k.Trees, ", "))
	case !slices.Contains(k.Trees, p.Tree):
		return bad("tree", "%q is not a known tree (want one of %s)", p.Tree, strings.Join(k.Trees, ", "))
	}
	if k.Catalog == nil {
		return bad("actions", "no action catalog to check against")
	}
	if len(p.Actions) > len(k.Catalog.Actions) {
		return bad("actions", "%d actions, more than the catalog's %d", len(p.Actions), len(k.Catalog.Actions))
	}
	have := map[string]bool{}
	for i, a := range p.Actions {
		if _, ok := k.Catalog.Action(a); !ok {
			return bad(fmt.Sprintf("actions[%d]", i), "%q is not in the action catalog", a)
		}
		if have[a] {
			return bad(fmt.Sprintf("actions[%d]", i), "%q listed twice", a)
		}
		have[a] = true
	}
	// Catalog order, so that the rendered persona (and its cached prefix)
	// does not depend on how a designer happened to order the list.
	p.Actions = p.Actions[:0:0]
	for _, a := range k.Catalog.Names() {
		if have[a] {
			p.Actions = append(p.Actions, a)
		}
	}
	return nil
}

// relationKinds is logically constant: the kinds a relationship may name.
var relationKinds = []string{npc.KindPlayer, npc.KindNPC, npc.KindCreature}

// text checks one free-text field that may span lines (backstory, lore):
// valid UTF-8, within max bytes, no control characters other than line
// breaks and tabs, and present if required (after trimming spaces).
func text(field, s string, max int, required bool) error {
	return checkText(s, max, required, true)
}

// line is text for a one-line field (names, traits, goals, speech): the
// prompt shows these inline, so a line break in one is a mistake.
func line(field, s string, max int, required bool) error {
	return checkText(s, max, required, false)
}

func checkText(s string, max int, required, multiline bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return errors.New("missing or blank")
	case len(s) > max:
		return fmt.Errorf("%d bytes exceeds the limit of %d", len(s), max)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if !multiline && (r == '\n' || r == '\r') {
			return errors.New("contains a line break (this field is one line)")
		}
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

type listError struct{ field, msg string }

// list checks a list of short texts: at most maxItems, none blank.
func list(field string, xs []string, maxItems, maxBytes int) *listError {
	if len(xs) > maxItems {
		return &listError{field, fmt.Sprintf("%d items exceeds the limit of %d", len(xs), maxItems)}
	}
	for i, x := range xs {
		if err := line(field, x, maxBytes, true); err != nil {
			return &listError{fmt.Sprintf("%s[%d]", field, i), err.Error()}
		}
	}
	return nil
}

// stem is a file name without directory and ".json".
func stem(file string) string {
	if i := strings.LastIndexAny(file, `/\`); i >= 0 {
		file = file[i+1:]
	}
	return strings.TrimSuffix(file, ".json")
}

// Prompt converts p to the renderer's persona input.
func (p *Persona) Prompt() npc.Persona {
	return npc.Persona{
		Name:      p.Name,
		Role:      p.Role,
		Traits:    slices.Clone(p.Traits),
		Speech:    p.Speech,
		Backstory: p.Backstory,
		Goals:     slices.Clone(p.Goals),
		Knows:     slices.Clone(p.Knowledge),
		Actions:   slices.Clone(p.Actions),
	}
}

// FromSpawn builds the persona a spawn message asks for. base is the named
// persona (spawn.persona), or nil when the spawn describes a character
// inline only; inline character fields override base's, spawn.tree
// overrides the tree, and spawn.actions restricts the actions (to a subset
// of base's, or of the catalog when there is no base). id is the NPC's id
// (the envelope's npc); it becomes the persona's id when there is no base.
//
// An inline character without a named persona gets DefaultTree (unless
// spawn.tree names one), every catalog action (unless spawn.actions lists
// some), and the language its text is written in (Korean when its name or
// description has Hangul). Errors are *FieldErrors with File "spawn" and
// the field as the protocol names it.
func FromSpawn(id string, s *protocol.Spawn, base *Persona, k Known) (*Persona, error) {
	bad := func(field, format string, args ...any) error {
		return &FieldError{File: "spawn", Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if base == nil && s.Character == nil {
		if s.Persona != "" {
			return nil, bad("persona", "%q is not a known persona", s.Persona)
		}
		return nil, bad("persona", "neither a persona name nor an inline character")
	}
	var p Persona
	if base != nil {
		p = *base
		p.Traits, p.Goals, p.Knowledge = slices.Clone(base.Traits), slices.Clone(base.Goals), slices.Clone(base.Knowledge)
		p.Relationships, p.Actions = slices.Clone(base.Relationships), slices.Clone(base.Actions)
	} else {
		p.ID = sanitizeID(id)
		p.Tree = DefaultTree
		if k.Catalog != nil {
			p.Actions = k.Catalog.Names()
		}
	}
	if c := s.Character; c != nil {
		p.Name = c.Name
		if c.Role != "" {
			p.Role = c.Role
		}
		if c.Description != "" {
			p.Backstory = c.Description
		}
		if c.Style != "" {
			p.Speech = c.Style
		}
		if len(c.Goals) > 0 {
			p.Goals = slices.Clone(c.Goals)
		}
		if base == nil {
			p.Language = English
			if hasHangul(c.Name) || hasHangul(c.Description) || hasHangul(c.Style) {
				p.Language = Korean
			}
		}
	}
	if s.Tree != "" {
		p.Tree = s.Tree
	}
	if len(s.Actions) > 0 {
		for i, a := range s.Actions {
			if !slices.Contains(p.Actions, a) {
				if k.Catalog != nil {
					if _, ok := k.Catalog.Action(a); !ok {
						return nil, bad(fmt.Sprintf("actions[%d]", i), "%q is not in the action catalog", a)
					}
				}
				return nil, bad(fmt.Sprintf("actions[%d]", i), "%q is not among the persona's actions", a)
			}
		}
		p.Actions = slices.Clone(s.Actions)
	}
	if err := p.check("spawn", k); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.Field = spawnField(fe.Field)
		}
		return nil, err
	}
	return &p, nil
}

// spawnField names a persona field as the spawn message does.
func spawnField(f string) string {
	switch {
	case f == "name" || f == "role" || f == "goals" || strings.HasPrefix(f, "goals["):
		return "character." + f
	case f == "speech":
		return "character.style"
	case f == "backstory":
		return "character.description"
	}
	return f
}

// sanitizeID turns an NPC id into a persona id: lower case, other runes
// replaced by '_', at most 32 bytes, starting with a letter.
func sanitizeID(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if b.Len() == MaxIDBytes {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "n" + s
		if len(s) > MaxIDBytes {
			s = s[:MaxIDBytes]
		}
	}
	return s
}

func hasHangul(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}
