package npc

import (
	"bytes"
	"fmt"
	"strings"
)

// PromptFormat is how the renderer lays out a listed thing's id beside its
// name: a model learns one layout and is served with the one it learnt, so
// a GGUF file names its layout under PromptFormatKey and the runtime
// renders accordingly.
//
// The layouts differ where the model must go from a name to an id. A
// player asks for "the Stone Well" and the decision must say "l5". With
// the id first ("l5 the Stone Well") the id has to be copied from before
// the name the prompt matched, which attention's copying pattern (find the
// match, copy what follows it) does not do; a model trained that way
// answered the held-out split's place questions with a default id (see
// train/README.md). With the name first ("the Stone Well l5") the id is
// what follows the match.
type PromptFormat uint8

const (
	// IDFirst writes "l5 the Stone Well": the layout of every model
	// trained before PromptFormatKey existed, hence the zero value and
	// what a file without the key gets.
	IDFirst PromptFormat = iota
	// NameFirst writes "the Stone Well l5", in [Places], [Seen], carried
	// and held items, and events' items.
	NameFirst
	// IDLast writes every id as the decision JSON writes it, in quotes,
	// and last in its entry, after the name and the note: `the Stone Well
	// (well, up the hill) "l5"`, `Aren (player, 3 m) "p5"`, `at "l2"`,
	// `Aren "p5": "Hello"`. The model writes a target as `"l5"`, so the
	// prompt's tokens for the id are the very tokens it must emit (" l5"
	// tokenizes as " l" + "5", "l5" as "l" + "5"), and they follow every
	// word a player may use to name the thing — its name, its kind, where
	// it is — so finding the entry and copying its id is one step of
	// attention's match-then-copy rather than a copy from before the match.
	IDLast
	// IDLastColon is IDLast with each note after a colon instead of in
	// parentheses: `the Stone Well: well, up the hill "l5"`, `Aren:
	// player, 3 m "p5"`. A byte-level BPE glues a word to a "(" before it
	// ("(well" is "(" + "well") but a player asks for " well", with the
	// space, a different token: in parentheses the kind a player names
	// never matches the kind the entry lists, token for token, and a
	// small model must learn each pair as a synonym. After ": " it is the
	// same " well". What an entity holds keeps its parentheses, so its
	// items' ids stay inside and the entity's own id is still the entry's
	// last: `Aren: player, 2 m (holding sword "i4") "p1"`.
	IDLastColon
	// Names refers to everything by a name instead of an id: each place,
	// entity and item gets a prompt-local alias derived from its name
	// (PromptInput.Aliased), which the prompt writes quoted and last in
	// its entry, after its note and a colon — `well, up the hill: "the
	// Stone Well"`, `player, 3 m: "Aren"`, `"Aren": "Hello"` — and which
	// the decision writes as its target: {"name":"go_to","target":"the
	// Stone Well"}. A model trained on IDLast named the right place in its
	// reply far more often than it wrote the right id before it (an id is
	// an opaque token that only its entry ties to the name; see
	// train/README.md), so here writing the target is writing the name.
	// The mind maps the aliases back to the game's ids (Aliases.Resolve).
	Names
	// IDLastRecall is IDLast with a [Recall] line closing each user turn:
	// the places and lore facts that what the NPC heard refers to, found
	// by the lexical retrieval of recall.go and written next to the
	// question, where a small model copies ids from (the [Places] of the
	// system turn stay as they are, for everything not asked about).
	IDLastRecall
)

// PromptFormatKey is the GGUF metadata key (a string, String's names)
// that names the layout a model was trained on.
const PromptFormatKey = "anima.prompt_format"

// String returns the format's name: "id-first", "name-first", "id-last",
// "id-last-colon", "names" or "id-last-recall".
func (f PromptFormat) String() string {
	switch f {
	case IDFirst:
		return "id-first"
	case NameFirst:
		return "name-first"
	case IDLast:
		return "id-last"
	case IDLastColon:
		return "id-last-colon"
	case Names:
		return "names"
	case IDLastRecall:
		return "id-last-recall"
	}
	return fmt.Sprintf("PromptFormat(%d)", uint8(f))
}

// ParsePromptFormat reads a format's name, as String writes it.
func ParsePromptFormat(s string) (PromptFormat, error) {
	switch s {
	case "id-first":
		return IDFirst, nil
	case "name-first":
		return NameFirst, nil
	case "id-last":
		return IDLast, nil
	case "id-last-colon":
		return IDLastColon, nil
	case "names":
		return Names, nil
	case "id-last-recall":
		return IDLastRecall, nil
	}
	return 0, fmt.Errorf("npc: unknown prompt format %q (want id-first, name-first, id-last, id-last-colon, names or id-last-recall)", s)
}

// idLast reports whether the format quotes ids and writes them last.
func (f PromptFormat) idLast() bool {
	return f == IDLast || f == IDLastColon || f == Names || f == IDLastRecall
}

// ref writes an id alone, as the format writes ids: in the id-last
// formats as the decision JSON writes it, quoted and escaped
// (writeJSONString).
func (f PromptFormat) ref(id string) string {
	id = clean(id)
	if f.idLast() && id != "" {
		var b bytes.Buffer
		writeJSONString(&b, id)
		return b.String()
	}
	return id
}

// entry writes a listed thing: its id, its name (either may be empty) and
// a note, already cleaned (empty for none), in parentheses after the name
// (IDLastColon: after a colon); the id where the format puts it.
func (f PromptFormat) entry(id, name, note string) string {
	if f == Names {
		// The id is the alias of the name (PromptInput.Aliased), so the
		// name is not written twice; unless the thing was named after
		// its alias was given (a stranger who said who they are).
		if n := aliasBase(name); n != "" && id != n && !strings.HasPrefix(id, n+" ") {
			if note != "" {
				note = clean(name) + ", " + note
			} else {
				note = clean(name)
			}
		}
		if note != "" && id != "" {
			note += ":"
		}
		return join(note, f.ref(id))
	}
	if f == IDLastColon {
		name = clean(name)
		if name != "" && note != "" {
			name += ":"
		}
		return join(name, note, f.ref(id))
	}
	if note != "" {
		note = "(" + note + ")"
	}
	if f == IDLast || f == IDLastRecall {
		return join(clean(name), note, f.ref(id))
	}
	return join(f.names(id, name), note)
}

// join joins the non-empty parts with single spaces.
func join(parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += " "
		}
		out += p
	}
	return out
}

// names writes id and name (either may be empty) in the order of the two
// layouts that keep them together, separated by one space.
func (f PromptFormat) names(id, name string) string {
	id, name = clean(id), clean(name)
	switch {
	case name == "":
		return id
	case id == "":
		return name
	case f == NameFirst:
		return name + " " + id
	}
	return id + " " + name
}
