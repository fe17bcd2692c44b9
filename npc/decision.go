package npc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc/catalog"
)

// Decision is what the model writes for one turn (DESIGN.md, "The decision
// the model writes"):
//
//	{"emotion":"wary","action":{"name":"follow","target":"p1"},"say":"Stay close."}
//
// Keys come in this fixed order, compact; "target" appears only for actions
// that take one and "item" only for actions that take an item, so the
// constrained decoder can force all scaffolding.
type Decision struct {
	Emotion string
	Action  Intent
	Say     string
}

// Intent is the action part of a decision.
type Intent struct {
	Name   string // a catalog action
	Target string // an id from Targets; empty for actions without a target
	Item   string // an item id; empty for actions without an item
}

// MaxDecisionBytes bounds a decision read from the model or a client.
const MaxDecisionBytes = 16 << 10

// MarshalJSON writes the canonical form: fixed key order, no spaces, UTF-8
// kept as is, and "<|" written as "<\u007c" so that a decision re-rendered
// into a prompt can never contain a special-token string.
func (d Decision) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"emotion":`)
	writeJSONString(&b, d.Emotion)
	b.WriteString(`,"action":{"name":`)
	writeJSONString(&b, d.Action.Name)
	if d.Action.Target != "" {
		b.WriteString(`,"target":`)
		writeJSONString(&b, d.Action.Target)
	}
	if d.Action.Item != "" {
		b.WriteString(`,"item":`)
		writeJSONString(&b, d.Action.Item)
	}
	b.WriteString(`},"say":`)
	writeJSONString(&b, d.Say)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// JSON is MarshalJSON as a string.
func (d Decision) JSON() string {
	b, _ := d.MarshalJSON() // never fails
	return string(b)
}

// Completion is the assistant turn's text as trained and as decoded: the
// canonical JSON followed by the end-of-turn token.
func (d Decision) Completion() string { return d.JSON() + ImEnd }

func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	prev := rune(0)
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == '\u2028' || r == '\u2029':
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[(r>>shift)&0xf])
			}
		case r == '|' && prev == '<':
			b.WriteString(`\u007c`)
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	b.WriteByte('"')
}

// wireDecision has pointers so that missing keys can be told from empty ones.
type wireDecision struct {
	Emotion *string     `json:"emotion"`
	Action  *wireIntent `json:"action"`
	Say     *string     `json:"say"`
}

type wireIntent struct {
	Name   *string `json:"name"`
	Target string  `json:"target"`
	Item   string  `json:"item"`
}

// UnmarshalJSON parses a decision strictly: every key present, no unknown
// keys, nothing after the object.
func (d *Decision) UnmarshalJSON(data []byte) error {
	got, err := ParseDecision(data)
	if err != nil {
		return err
	}
	*d = got
	return nil
}

// ParseDecision parses a decision as the model or a client wrote it. A
// trailing <|im_end|> is accepted and dropped. It checks the shape only;
// Validate checks it against the catalog and the situation.
func ParseDecision(data []byte) (Decision, error) {
	if len(data) > MaxDecisionBytes {
		return Decision{}, fmt.Errorf("npc: parse decision: %d bytes exceeds the limit of %d", len(data), MaxDecisionBytes)
	}
	data = bytes.TrimSuffix(bytes.TrimSpace(data), []byte(ImEnd))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireDecision
	if err := dec.Decode(&w); err != nil {
		return Decision{}, fmt.Errorf("npc: parse decision: %w", err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return Decision{}, errors.New("npc: parse decision: trailing data after the object")
	}
	switch {
	case w.Emotion == nil:
		return Decision{}, errors.New(`npc: parse decision: missing "emotion"`)
	case w.Action == nil:
		return Decision{}, errors.New(`npc: parse decision: missing "action"`)
	case w.Action.Name == nil:
		return Decision{}, errors.New(`npc: parse decision: missing "action"."name"`)
	case w.Say == nil:
		return Decision{}, errors.New(`npc: parse decision: missing "say"`)
	}
	return Decision{
		Emotion: *w.Emotion,
		Action:  Intent{Name: *w.Action.Name, Target: w.Action.Target, Item: w.Action.Item},
		Say:     *w.Say,
	}, nil
}

// MaxSayRunes bounds what an NPC says in one decision.
const MaxSayRunes = 600

// Validate checks d against the catalog and what is available now: the
// emotion and action exist, the target is present and of a kind the action
// allows, the item is present when the action takes one, and nothing is
// named that the action does not take.
func (d Decision) Validate(cat *catalog.Catalog, avail Targets) error {
	if !cat.HasEmotion(d.Emotion) {
		return fmt.Errorf("npc: decision: unknown emotion %q", d.Emotion)
	}
	a, ok := cat.Action(d.Action.Name)
	if !ok {
		return fmt.Errorf("npc: decision: unknown action %q", d.Action.Name)
	}
	if !a.TakesTarget() {
		if d.Action.Target != "" {
			return fmt.Errorf("npc: decision: action %q takes no target, got %q", a.Name, d.Action.Target)
		}
	} else {
		if d.Action.Target == "" {
			return fmt.Errorf("npc: decision: action %q needs a target (%v)", a.Name, a.Targets)
		}
		kind, ok := avail[d.Action.Target]
		if !ok {
			return fmt.Errorf("npc: decision: action %q: target %q is not present", a.Name, d.Action.Target)
		}
		if !a.Allows(kind) {
			return fmt.Errorf("npc: decision: action %q: target %q is a %s; want %v", a.Name, d.Action.Target, kind, a.Targets)
		}
	}
	switch a.Item {
	case catalog.ItemNone:
		if d.Action.Item != "" {
			return fmt.Errorf("npc: decision: action %q takes no item, got %q", a.Name, d.Action.Item)
		}
	case catalog.ItemRequired:
		if d.Action.Item == "" {
			return fmt.Errorf("npc: decision: action %q needs an item", a.Name)
		}
	}
	if d.Action.Item != "" {
		if kind, ok := avail[d.Action.Item]; !ok || kind != catalog.Item {
			return fmt.Errorf("npc: decision: action %q: item %q is not present", a.Name, d.Action.Item)
		}
	}
	if n := utf8.RuneCountInString(d.Say); n > MaxSayRunes {
		return fmt.Errorf("npc: decision: say is %d runes; limit %d", n, MaxSayRunes)
	}
	return nil
}

// ValidateFor is Validate against what in makes available, and also checks
// that the action is one the persona may take (when it lists any).
func (d Decision) ValidateFor(cat *catalog.Catalog, in PromptInput) error {
	if len(in.Persona.Actions) > 0 && !slices.Contains(in.Persona.Actions, d.Action.Name) {
		return fmt.Errorf("npc: decision: action %q is not among %s's actions %v", d.Action.Name, in.Persona.Name, in.Persona.Actions)
	}
	return d.Validate(cat, in.Targets())
}

// For returns the ids that may be the target of a, sorted: what a decision
// schema offers after that action's name.
func (t Targets) For(a catalog.Action) []string {
	var ids []string
	for id, k := range t {
		if a.Allows(k) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Items returns the item ids, sorted: what may fill an action's item.
func (t Targets) Items() []string {
	var ids []string
	for id, k := range t {
		if k == catalog.Item {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
