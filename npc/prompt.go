// Package npc holds what an NPC's mind is made of — persona, world lore,
// memory digest, conversation and perception — and the one prompt renderer
// that turns them into the ChatML prompt the model reads, for training and
// serving alike, plus the decision the model writes back.
//
// The prompt layout (see DESIGN.md, "Prompt layout") puts the most stable text
// first, in five segments that the engine tokenizes separately so that every
// shared prefix stays cacheable:
//
//	lore      <|im_start|>system\n[World] …\n[Places] …\n
//	persona   [You] …\nTraits: …\n…
//	memory    [Memory]\n- …\n<|im_end|>\n
//	history   earlier turns: <|im_start|>user\n…<|im_end|>\n<|im_start|>assistant\n{…}<|im_end|>\n
//	stimulus  <|im_start|>user\n[Seen] …\n[Heard] p1 Aren: "…"\n<|im_end|>\n<|im_start|>assistant\n
//
// Text from outside (player speech, names, notes) never becomes structure:
// line breaks are flattened, ChatML special-token strings are broken up, and
// speech is always quoted as heard.
package npc

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc/catalog"
)

// ChatML special tokens. The tokenizer maps these exact strings to single
// special tokens, so they must never appear in rendered free text.
const (
	ImStart   = "<|im_start|>"
	ImEnd     = "<|im_end|>"
	EndOfText = "<|endoftext|>"
)

// MaxQuoteRunes bounds one quoted utterance; longer speech is cut and marked
// with "…" (a documented clamp: a megabyte of player speech must not become a
// megabyte of prompt).
const MaxQuoteRunes = 400

// MaxFieldRunes bounds any other free-text field (names, notes, memory
// lines), except the long ones below.
const MaxFieldRunes = 2000

// MaxLoreRunes bounds a world's lore text and a persona's backstory, which
// designers write at length.
const MaxLoreRunes = 16000

// Lore is what every NPC of a world knows; its rendering is the same bytes for
// all of them, so the engine computes it once.
type Lore struct {
	Name   string  // the world or town, e.g. "Oakvale"
	Text   string  // prose: history, rulers, customs, dangers
	Places []Place // the named places NPCs may go to or point at
}

// Place is a named location of the world, a target of kind place.
type Place struct {
	ID   string // short id the model writes as a target, e.g. "l3"
	Name string // e.g. "The Rusty Anchor"
	Note string // e.g. "inn, east of the square"
}

// Persona is who the NPC is. It changes rarely, so it follows the lore.
type Persona struct {
	Name      string
	Role      string   // e.g. "blacksmith"
	Traits    []string // e.g. "gruff", "honest"
	Speech    string   // speech style, e.g. `short blunt sentences; calls people "lad"`
	Backstory string
	Goals     []string
	Knows     []string // facts the NPC knows beyond the lore
	Actions   []string // when set, the only actions this NPC may take
}

// Item is a carried or lying thing, a target of kind item.
type Item struct {
	ID   string // e.g. "i4"
	Name string // e.g. "rusty sword"
	Note string // e.g. "2 copper"
}

// Entity kinds as perceived. Players, NPCs and creatures are targets of kind
// entity; items and objects of their own kinds.
const (
	KindPlayer   = "player"
	KindNPC      = "npc"
	KindCreature = "creature"
	KindItem     = "item"
	KindObject   = "object"
)

// Entity is something the NPC sees.
type Entity struct {
	ID       string // e.g. "p1", "n3", "o2"
	Name     string // empty when the NPC does not know it (a stranger)
	Kind     string // one of the Kind constants
	Role     string // e.g. "child", "guard"; optional
	Relation string // e.g. "friend", "stranger", "hostile"; optional
	Where    string // e.g. "2 m", "at the well"
	Holding  []Item
}

// Event kinds; speech goes in Stimulus.Heard instead.
const (
	EventAttacked = "attacked"
	EventGift     = "gift"
	EventStole    = "stole"
	EventAppeared = "appeared"
	EventLeft     = "left"
	EventSound    = "sound"
)

// Event is something that happened since the NPC last thought.
type Event struct {
	Kind   string // one of the Event constants
	Actor  string // entity id of who did it; empty for sounds
	Target string // entity id it was done to; empty means the NPC itself
	Item   *Item  // for gift and stole
	Text   string // for sounds and unknown kinds
}

// Utterance is speech the NPC heard.
type Utterance struct {
	From string // entity id of the speaker
	Name string // speaker's name when known
	Text string // exactly as said; the renderer quotes it
}

// Self is the NPC's own state.
type Self struct {
	Place     string // place id where it is, optional
	Activity  string // e.g. "working at the anvil"
	Condition string // e.g. "wounded", "tired"
	Inventory []Item
}

// Stimulus is what the NPC perceives at the moment it thinks.
type Stimulus struct {
	Time   string // time of day, e.g. "evening"
	Self   Self
	Seen   []Entity
	Events []Event
	Heard  []Utterance
}

// Turn is one earlier exchange of the conversation: what the NPC perceived
// and the decision it wrote.
type Turn struct {
	Stimulus Stimulus
	Reply    Decision
}

// PromptInput is everything the renderer needs.
type PromptInput struct {
	Lore    Lore
	Persona Persona
	Memory  []string // memory digest, one line each
	History []Turn
	Now     Stimulus
	// Format is the id/name layout the model was trained on (the zero
	// value, IDFirst, for models that do not say).
	Format PromptFormat
}

// Segment names, in prompt order.
const (
	SegLore     = "lore"
	SegPersona  = "persona"
	SegMemory   = "memory"
	SegHistory  = "history"
	SegStimulus = "stimulus"
)

// Segment is one separately tokenized part of a prompt.
type Segment struct {
	Name string
	Text string
}

// Segments are a prompt's parts in order: lore, persona, memory, history,
// stimulus. Only history may be empty (on a conversation's first turn).
type Segments []Segment

// String is the whole prompt.
func (s Segments) String() string {
	var b strings.Builder
	for _, seg := range s {
		b.WriteString(seg.Text)
	}
	return b.String()
}

// Text returns the named segment's text.
func (s Segments) Text(name string) string {
	for _, seg := range s {
		if seg.Name == name {
			return seg.Text
		}
	}
	return ""
}

// RenderPrompt renders the prompt for in. It is pure and deterministic: the
// same input always gives the same bytes, which is what lets the engine reuse
// cached prefixes and what makes training match serving.
//
// The prompt of a follow-up turn extends the previous one: if p2 is p1 with
// p1.Now and the decision d appended to History and a new Now, then
// RenderPrompt(p2) = RenderPrompt(p1) + d.Completion() + "\n" + the new
// stimulus.
func RenderPrompt(in PromptInput) Segments {
	// One builder for the whole prompt, cut into segments at the end: the
	// segments share its memory and growth happens once, not five times.
	var b strings.Builder
	b.Grow(2048)
	var cuts [4]int

	b.WriteString(ImStart + "system\n[World] ")
	if in.Lore.Name != "" {
		b.WriteString(clean(in.Lore.Name))
		b.WriteString(". ")
	}
	b.WriteString(sanitize(in.Lore.Text, MaxLoreRunes, false))
	b.WriteByte('\n')
	if len(in.Lore.Places) > 0 {
		b.WriteString("[Places] ")
		for i, p := range in.Lore.Places {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(in.Format.entry(p.ID, p.Name, clean(p.Note)))
		}
		b.WriteByte('\n')
	}
	cuts[0] = b.Len()
	p := in.Persona
	b.WriteString("[You] ")
	b.WriteString(clean(p.Name))
	if p.Role != "" {
		b.WriteString(" (")
		b.WriteString(clean(p.Role))
		b.WriteByte(')')
	}
	b.WriteByte('\n')
	writeList(&b, "Traits: ", p.Traits, ", ")
	writeLine(&b, "Speech: ", p.Speech)
	if p.Backstory != "" {
		b.WriteString("Story: " + sanitize(p.Backstory, MaxLoreRunes, false) + "\n")
	}
	writeList(&b, "Goals: ", p.Goals, "; ")
	writeList(&b, "Knows: ", p.Knows, "; ")
	writeList(&b, "Actions: ", p.Actions, ", ")
	cuts[1] = b.Len()
	if len(in.Memory) > 0 {
		b.WriteString("[Memory]\n")
		for _, m := range in.Memory {
			b.WriteString("- ")
			b.WriteString(clean(m))
			b.WriteByte('\n')
		}
	}
	b.WriteString(ImEnd + "\n")
	cuts[2] = b.Len()
	var rc *recall
	if in.Format == IDLastRecall {
		rc = newRecall(in)
	}
	for _, t := range in.History {
		writeStimulus(&b, t.Stimulus, in.Format, rc, in.Lore.Places)
		b.WriteString(t.Reply.Completion())
		b.WriteByte('\n')
	}
	cuts[3] = b.Len()
	writeStimulus(&b, in.Now, in.Format, rc, in.Lore.Places)
	all := b.String()

	return Segments{
		{SegLore, all[:cuts[0]]},
		{SegPersona, all[cuts[0]:cuts[1]]},
		{SegMemory, all[cuts[1]:cuts[2]]},
		{SegHistory, all[cuts[2]:cuts[3]]},
		{SegStimulus, all[cuts[3]:]},
	}
}

// writeStimulus renders one user turn and opens the assistant turn; with
// rc (IDLastRecall) the turn ends with what its speech refers to.
func writeStimulus(b *strings.Builder, s Stimulus, f PromptFormat, rc *recall, places []Place) {
	b.WriteString(ImStart + "user\n")
	writeLine(b, "[Time] ", s.Time)
	if self := s.Self; self.Place != "" || self.Activity != "" || self.Condition != "" || len(self.Inventory) > 0 {
		b.WriteString("[Self] ")
		var parts []string
		if self.Place != "" {
			parts = append(parts, "at "+f.ref(self.Place))
		}
		if self.Activity != "" {
			parts = append(parts, clean(self.Activity))
		}
		if self.Condition != "" {
			parts = append(parts, clean(self.Condition))
		}
		if len(self.Inventory) > 0 {
			parts = append(parts, "carrying "+items(self.Inventory, f))
		}
		b.WriteString(strings.Join(parts, "; "))
		b.WriteByte('\n')
	}
	if len(s.Seen) > 0 {
		b.WriteString("[Seen] ")
		for i, e := range s.Seen {
			if i > 0 {
				b.WriteString("; ")
			}
			details := clean(e.Kind)
			for _, d := range []string{e.Role, e.Relation, e.Where} {
				if d != "" {
					details += ", " + clean(d)
				}
			}
			if len(e.Holding) > 0 {
				if f == IDLastColon || f == Names {
					details += " (holding " + items(e.Holding, f) + ")"
				} else {
					details += ", holding " + items(e.Holding, f)
				}
			}
			b.WriteString(f.entry(e.ID, e.Name, details))
		}
		b.WriteByte('\n')
	}
	if len(s.Events) > 0 {
		b.WriteString("[Events] ")
		for i, e := range s.Events {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(event(e, f))
		}
		b.WriteByte('\n')
	}
	if len(s.Heard) > 0 {
		b.WriteString("[Heard] ")
		for i, u := range s.Heard {
			if i > 0 {
				b.WriteString(" ")
			}
			if f == Names && u.From != "" {
				b.WriteString(f.ref(u.From))
			} else if f.idLast() {
				b.WriteString(join(clean(u.Name), f.ref(u.From)))
			} else {
				b.WriteString(join(clean(u.From), clean(u.Name)))
			}
			b.WriteString(": ")
			b.WriteString(Quote(u.Text))
		}
		b.WriteByte('\n')
	}
	if rc != nil {
		writeRecall(b, rc, s, places, f)
	}
	b.WriteString(ImEnd + "\n" + ImStart + "assistant\n")
}

func event(e Event, f PromptFormat) string {
	actor := f.ref(e.Actor)
	if actor == "" {
		actor = "someone"
	}
	target := "you"
	if e.Target != "" {
		target = f.ref(e.Target)
	}
	item := "something"
	if e.Item != nil {
		item = items([]Item{*e.Item}, f)
	}
	switch e.Kind {
	case EventAttacked:
		return actor + " attacked " + target
	case EventGift:
		return actor + " gave " + target + " " + item
	case EventStole:
		return actor + " stole " + item + " from " + target
	case EventAppeared:
		return actor + " appeared"
	case EventLeft:
		return actor + " left"
	case EventSound:
		return "sound: " + clean(e.Text)
	}
	s := clean(e.Kind) + ":"
	if e.Actor != "" {
		s += " " + actor
	}
	if e.Text != "" {
		s += " " + clean(e.Text)
	}
	return s
}

func items(its []Item, f PromptFormat) string {
	parts := make([]string, len(its))
	for i, it := range its {
		parts[i] = f.entry(it.ID, it.Name, clean(it.Note))
	}
	return strings.Join(parts, ", ")
}

func writeLine(b *strings.Builder, label, s string) {
	if s == "" {
		return
	}
	b.WriteString(label)
	b.WriteString(clean(s))
	b.WriteByte('\n')
}

func writeList(b *strings.Builder, label string, xs []string, sep string) {
	if len(xs) == 0 {
		return
	}
	b.WriteString(label)
	for i, x := range xs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(clean(x))
	}
	b.WriteByte('\n')
}

// clean makes free text safe to place in the prompt's structure: one line,
// valid UTF-8, no control characters, no ChatML special-token strings, and
// at most MaxFieldRunes runes.
func clean(s string) string {
	return sanitize(s, MaxFieldRunes, false)
}

// Quote renders speech as heard: in double quotes, with backslashes, quotes
// and line breaks escaped (so a player cannot close the quote or start a new
// prompt line), ChatML special-token strings broken up, and at most
// MaxQuoteRunes runes.
func Quote(s string) string {
	return `"` + sanitize(s, MaxQuoteRunes, true) + `"`
}

// sanitize is clean and Quote's shared body. Every special token starts
// with "<|", so writing "< |" instead defuses all of them, present and future.
func sanitize(s string, maxRunes int, quoted bool) string {
	if clean := !needsSanitize(s, maxRunes, quoted); clean {
		return s
	}
	return sanitizeSlow(s, maxRunes, quoted)
}

// needsSanitize reports whether sanitizeSlow would change s. Almost all text
// is plain, and this byte scan is several times faster than rebuilding it.
func needsSanitize(s string, maxRunes int, quoted bool) bool {
	if len(s) > maxRunes && utf8.RuneCountInString(s) > maxRunes {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return true
		case c == '|' && i > 0 && s[i-1] == '<':
			return true
		case quoted && (c == '"' || c == '\\'):
			return true
		case c == 0xC2 && i+1 < len(s) && s[i+1] < 0xA0: // U+0080..U+009F
			return true
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9): // U+2028, U+2029
			return true
		case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBB && s[i+2] == 0xBF: // U+FEFF
			return true
		}
	}
	return !utf8.ValidString(s)
}

// sanitizeSlow is sanitize's reference: it rebuilds s rune by rune.
func sanitizeSlow(s string, maxRunes int, quoted bool) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*maxRunes) + 2)
	n := 0
	prev := rune(0)
	for _, r := range s {
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == '|' && prev == '<':
			b.WriteString(" |")
		case quoted && r == '\\':
			b.WriteString(`\\`)
		case quoted && r == '"':
			b.WriteString(`\"`)
		case quoted && r == '\n':
			b.WriteString(`\n`)
		case r == '\n' || r == '\r' || r == '\t':
			if quoted {
				b.WriteByte(' ')
			} else if prev != ' ' {
				b.WriteByte(' ')
			}
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\uFEFF':
			// dropped: invisible, and some tokenizers split lines on them
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// Targets are the ids a decision may name as targets or items right now,
// with their kinds: entities seen, items seen, held, carried or received,
// objects seen, and the places of the world.
type Targets map[string]catalog.TargetKind

// Targets returns what the current stimulus and lore make available.
func (in PromptInput) Targets() Targets {
	t := Targets{}
	for _, p := range in.Lore.Places {
		t[p.ID] = catalog.Place
	}
	for _, it := range in.Now.Self.Inventory {
		t[it.ID] = catalog.Item
	}
	for _, e := range in.Now.Seen {
		switch e.Kind {
		case KindItem:
			t[e.ID] = catalog.Item
		case KindObject:
			t[e.ID] = catalog.Object
		default:
			t[e.ID] = catalog.Entity
		}
		for _, it := range e.Holding {
			t[it.ID] = catalog.Item
		}
	}
	for _, ev := range in.Now.Events {
		if ev.Item != nil {
			t[ev.Item.ID] = catalog.Item
		}
	}
	return t
}
