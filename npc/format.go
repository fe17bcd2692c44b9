package npc

import "fmt"

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
)

// PromptFormatKey is the GGUF metadata key (a string, String's names)
// that names the layout a model was trained on.
const PromptFormatKey = "anima.prompt_format"

// String returns the format's name: "id-first" or "name-first".
func (f PromptFormat) String() string {
	switch f {
	case IDFirst:
		return "id-first"
	case NameFirst:
		return "name-first"
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
	}
	return 0, fmt.Errorf("npc: unknown prompt format %q (want id-first or name-first)", s)
}

// idName writes a listed thing's id and name (either may be empty) in the
// format's order, separated by one space.
func (f PromptFormat) idName(id, name string) string {
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
