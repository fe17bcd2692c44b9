// Package corpus generates Anima's synthetic NPC training corpus: situations
// (a world, a persona, what the NPC perceives and hears) and the decisions an
// NPC should write, rendered with the same prompt renderer the runtime uses
// (npc.RenderPrompt) and checked against the same action catalog.
//
// Generation is deterministic: example i of a (seed, split) is a pure
// function of those three numbers, so the corpus can be regenerated and
// sharded freely. The held-out split draws its worlds, persona names, player
// names, speech quirks and player phrasings from pools disjoint from the
// training split's (every fifth entry of each pool), so evaluation measures
// generalisation, not recall.
package corpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// Lang is the language of an example.
type Lang string

// The corpus languages.
const (
	English Lang = "en"
	Korean  Lang = "ko"
)

// Split is a partition of the corpus.
type Split string

// The splits.
const (
	Train   Split = "train"
	Heldout Split = "heldout"
)

// ParseSplit reads a split name.
func ParseSplit(s string) (Split, error) {
	switch Split(s) {
	case Train, Heldout:
		return Split(s), nil
	}
	return "", fmt.Errorf("corpus: unknown split %q (want train or heldout)", s)
}

// Segment is one prompt segment as written to JSONL.
type Segment struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// Labels say what a right answer is, for evaluation.
type Labels struct {
	// Accept maps every acceptable action to its acceptable targets (empty
	// for actions without a target).
	Accept map[string][]string `json:"accept"`
	// Actions are Accept's keys, sorted.
	Actions []string `json:"actions"`
	// Targets are all acceptable targets, sorted.
	Targets []string `json:"targets"`
	// Items are acceptable items for actions that take one.
	Items []string `json:"items,omitempty"`
	// Mentions are strings the reply must contain to be grounded: a
	// place's name, the item, the player's name from an earlier turn
	// (see Mentions for how they are matched).
	Mentions []string `json:"mentions,omitempty"`
	// Injection marks a player line that tries to rewrite the NPC's
	// instructions; the right reply deflects it in character.
	Injection bool `json:"injection"`
	// Turns counts the conversation's turns, this one included.
	Turns int `json:"turns"`
}

// Example is one training or evaluation example.
type Example struct {
	ID         string            `json:"id"`
	Split      Split             `json:"split"`
	Lang       Lang              `json:"lang"`
	Kind       string            `json:"kind"`    // the situation's kind, e.g. "ask_place"
	World      string            `json:"world"`   // town name
	Persona    string            `json:"persona"` // NPC name
	Role       string            `json:"role"`    // role key, e.g. "blacksmith"
	Segments   []Segment         `json:"segments"`
	Completion string            `json:"completion"`
	Decision   npc.Decision      `json:"decision"`
	Available  map[string]string `json:"available"` // id → target kind, what a decision may name
	Labels     Labels            `json:"labels"`

	input      npc.PromptInput // kept for tests
	bystanders []string        // ids of the crowd added by scene.crowd, kept for tests
}

// Prompt is the whole rendered prompt.
func (e *Example) Prompt() string {
	var b strings.Builder
	for _, s := range e.Segments {
		b.WriteString(s.Text)
	}
	return b.String()
}

// Heard returns what the player said in this example's last turn.
func (e *Example) Heard() []string {
	var out []string
	for _, u := range e.input.Now.Heard {
		out = append(out, u.Text)
	}
	return out
}

// WriteJSONL writes e as one line of JSON.
func (e *Example) WriteJSONL(w io.Writer) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return fmt.Errorf("corpus: encode %s: %w", e.ID, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Summary counts a corpus by action, persona role, kind and language.
type Summary struct {
	Examples   int
	Injections int
	MultiTurn  int
	Distinct   int // distinct prompt+completion pairs
	ByAction   map[string]int
	ByRole     map[string]int
	ByKind     map[string]int
	ByLang     map[Lang]int
	Emotions   map[string]int
	seen       map[string]bool
}

// NewSummary returns an empty summary.
func NewSummary() *Summary {
	return &Summary{ByAction: map[string]int{}, ByRole: map[string]int{}, ByKind: map[string]int{},
		ByLang: map[Lang]int{}, Emotions: map[string]int{}, seen: map[string]bool{}}
}

// Add counts e.
func (s *Summary) Add(e *Example) {
	s.Examples++
	if e.Labels.Injection {
		s.Injections++
	}
	if e.Labels.Turns > 1 {
		s.MultiTurn++
	}
	s.ByAction[e.Decision.Action.Name]++
	s.ByRole[e.Role]++
	s.ByKind[e.Kind]++
	s.ByLang[e.Lang]++
	s.Emotions[e.Decision.Emotion]++
	key := e.Prompt() + e.Completion
	if !s.seen[key] {
		s.seen[key] = true
		s.Distinct++
	}
}

// Write prints the summary as a plain-text table.
func (s *Summary) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "examples %d (distinct %d), injections %d, multi-turn %d\n", s.Examples, s.Distinct, s.Injections, s.MultiTurn)
	section := func(title string, m map[string]int) {
		fmt.Fprintf(&b, "\n%s (%d)\n", title, len(m))
		keys := slices.Sorted(maps.Keys(m))
		sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
		for _, k := range keys {
			fmt.Fprintf(&b, "  %-16s %7d\n", k, m[k])
		}
	}
	langs := map[string]int{}
	for l, n := range s.ByLang {
		langs[string(l)] = n
	}
	section("languages", langs)
	section("actions", s.ByAction)
	section("emotions", s.Emotions)
	section("kinds", s.ByKind)
	section("roles", s.ByRole)
	_, err := io.WriteString(w, b.String())
	return err
}

// finish renders the example and checks it: the decision must validate
// against the catalog and the situation, and be among the labels.
func finish(cat *catalog.Catalog, e *Example, in npc.PromptInput, d npc.Decision) error {
	// In the names format the prompt, the decision and the labels all
	// speak of things by their aliases, as the model does.
	in, al := in.Aliased()
	d = al.Decision(d)
	if al != nil {
		for a, ts := range e.Labels.Accept {
			out := make([]string, len(ts))
			for i, t := range ts {
				out[i] = al.Alias(t)
			}
			e.Labels.Accept[a] = out
		}
		for i, it := range e.Labels.Items {
			e.Labels.Items[i] = al.Alias(it)
		}
	}
	e.input = in
	segs := npc.RenderPrompt(in)
	e.Segments = make([]Segment, len(segs))
	for i, s := range segs {
		e.Segments[i] = Segment{s.Name, s.Text}
	}
	e.Decision = d
	e.Completion = d.Completion()
	avail := in.Targets()
	e.Available = make(map[string]string, len(avail))
	for id, k := range avail {
		e.Available[id] = string(k)
	}
	if err := d.ValidateFor(cat, in); err != nil {
		return fmt.Errorf("corpus: %s (%s): %w", e.ID, e.Kind, err)
	}
	l := &e.Labels
	l.Actions = slices.Sorted(maps.Keys(l.Accept))
	ts := map[string]bool{}
	for _, a := range l.Actions {
		for _, t := range l.Accept[a] {
			ts[t] = true
		}
		slices.Sort(l.Accept[a])
		if l.Accept[a] == nil {
			l.Accept[a] = []string{}
		}
	}
	l.Targets = slices.Sorted(maps.Keys(ts))
	if l.Targets == nil {
		l.Targets = []string{}
	}
	targets, ok := l.Accept[d.Action.Name]
	if !ok {
		return fmt.Errorf("corpus: %s (%s): decision action %q is not among the labels %v", e.ID, e.Kind, d.Action.Name, l.Actions)
	}
	if d.Action.Target != "" && !slices.Contains(targets, d.Action.Target) {
		return fmt.Errorf("corpus: %s (%s): decision target %q is not among the labels %v", e.ID, e.Kind, d.Action.Target, targets)
	}
	for _, m := range l.Mentions {
		if !Mentions(d.Say, m) {
			return fmt.Errorf("corpus: %s (%s): say %q does not mention %q", e.ID, e.Kind, d.Say, m)
		}
	}
	return nil
}

// Mentions reports whether say contains m, allowing a capital first letter
// (English sentences may open with "The Lantern Festival").
func Mentions(say, m string) bool { return MentionIndex(say, m) >= 0 }

// MentionIndex returns the byte index of m in say as Mentions finds it (as
// is, else with a capital first letter), or -1. m is len(m) bytes there
// either way.
func MentionIndex(say, m string) int {
	if i := strings.Index(say, m); i >= 0 {
		return i
	}
	if m != "" && m[0] >= 'a' && m[0] <= 'z' {
		return strings.Index(say, string(m[0]-'a'+'A')+m[1:])
	}
	return -1
}

// PlaceNames returns every place name the generator can give a world in
// language l, in any split, longest first: what a reply may name that is
// no place of the prompt's world (eval counts such made-up places).
func PlaceNames(l Lang) []string {
	seen := map[string]bool{}
	for _, pt := range placeTypes {
		names, adjs := pt.namesEN, pt.adjEN
		if l == Korean {
			names, adjs = pt.namesKO, pt.adjKO
		}
		for _, tpl := range names {
			if !strings.Contains(tpl, "{A}") || len(adjs) == 0 {
				seen[fill(tpl, nil)] = true
				continue
			}
			for _, a := range adjs {
				seen[fill(tpl, vars{"A": a})] = true
			}
		}
	}
	out := slices.Collect(maps.Keys(seen))
	slices.SortFunc(out, func(a, b string) int {
		if d := len(b) - len(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// NamedPlaces returns the places of names (PlaceNames' order: longest
// first) that say contains, each counted once, a longer name hiding the
// shorter ones inside it. An English name matches as a whole proper noun
// without its article ("The Market Square" and "the Market Square" are one
// place), except that a one-word name needs it ("the Keep", not "Keep
// moving"); a Korean name anywhere, as particles follow it.
func NamedPlaces(say string, names []string) []string {
	var out []string
	for _, n := range names {
		bare := strings.TrimPrefix(strings.TrimPrefix(n, "the "), "The ")
		keys := []string{bare}
		if bare != n && !strings.Contains(bare, " ") {
			// A one-word name is a common word without its article.
			keys = []string{"the " + bare, "The " + bare}
		}
		for _, key := range keys {
			if i := indexWord(say, key); i >= 0 {
				out = append(out, n)
				// Blank the match so that "the Keep" inside "the Keep
				// Tower" is not counted again.
				say = say[:i] + strings.Repeat("\x00", len(key)) + say[i+len(key):]
				break
			}
		}
	}
	return out
}

// indexWord is strings.Index of key in s, where an ASCII key must stand as
// whole words (no letter just before or after it).
func indexWord(s, key string) int {
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], key)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(key)
		if !isASCIIWord(key) || (!letterBefore(s, i) && !letterAt(s, end)) {
			return i
		}
		from = end
	}
	return -1
}

func isASCIIWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '\'' }

func letterBefore(s string, i int) bool { return i > 0 && isLetter(s[i-1]) }
func letterAt(s string, i int) bool     { return i < len(s) && isLetter(s[i]) }
