package corpus

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// corpora caches generated examples per split, since several tests read
// the same ones and generation is the slow part.
var corpora sync.Map // Split → []*Example

func examples(t *testing.T, split Split, n int) []*Example {
	t.Helper()
	key := fmt.Sprintf("%s/%d", split, n)
	if v, ok := corpora.Load(key); ok {
		return v.([]*Example)
	}
	g := newGenerator(t, split, 1)
	out := make([]*Example, n)
	for i := range out {
		var err error
		if out[i], err = g.Example(i); err != nil {
			t.Fatalf("Example(%d): %v", i, err)
		}
	}
	corpora.Store(key, out)
	return out
}

func TestDeterministic(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	gen := func(seed uint64, split Split, from, n int) []byte {
		g, err := New(cat, seed, split, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for i := from; i < from+n; i++ {
			e, err := g.Example(i)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.WriteJSONL(&b); err != nil {
				t.Fatal(err)
			}
		}
		return b.Bytes()
	}
	a, b := gen(42, Train, 0, 300), gen(42, Train, 0, 300)
	if !bytes.Equal(a, b) {
		t.Errorf("two generators with seed 42 wrote different bytes")
	}
	// Example i does not depend on the examples before it: shards agree.
	shard := gen(42, Train, 150, 150)
	if !bytes.HasSuffix(a, shard) {
		t.Errorf("examples 150..299 generated alone differ from the same examples generated after 0..149")
	}
	if bytes.Equal(a, gen(43, Train, 0, 300)) {
		t.Errorf("seeds 42 and 43 wrote the same bytes")
	}
	if bytes.Equal(a, gen(42, Heldout, 0, 300)) {
		t.Errorf("train and heldout wrote the same bytes")
	}
}

// TestExamplesAreValid re-checks every example from its parts: the
// completion parses, validates against the catalog and the situation, names
// only targets that are present, and is among the labels; the prompt is the
// renderer's output; no template slot is left unfilled.
func TestExamplesAreValid(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []Split{Train, Heldout} {
		for _, e := range examples(t, split, 3000) {
			d, err := npc.ParseDecision([]byte(e.Completion))
			if err != nil {
				t.Fatalf("%s: completion %q: %v", e.ID, e.Completion, err)
			}
			if !strings.HasSuffix(e.Completion, npc.ImEnd) || d != e.Decision {
				t.Errorf("%s: completion %q does not match decision %+v", e.ID, e.Completion, e.Decision)
			}
			avail := e.input.Targets()
			if err := d.ValidateFor(cat, e.input); err != nil {
				t.Errorf("%s (%s): %v", e.ID, e.Kind, err)
			}
			if id := d.Action.Target; id != "" && !strings.Contains(e.Prompt(), id+" ") {
				t.Errorf("%s: target %q does not appear in the prompt", e.ID, id)
			}
			if e.Prompt() != npc.RenderPrompt(e.input).String() {
				t.Errorf("%s: segments are not the renderer's output", e.ID)
			}
			targets, ok := e.Labels.Accept[d.Action.Name]
			if !ok {
				t.Errorf("%s: action %q not among acceptable %v", e.ID, d.Action.Name, e.Labels.Actions)
			}
			for a, ts := range e.Labels.Accept {
				if acts := e.input.Persona.Actions; len(acts) > 0 && !slices.Contains(acts, a) {
					t.Errorf("%s: label accepts %q, which the persona may not take", e.ID, a)
				}
				act, ok := cat.Action(a)
				if !ok {
					t.Errorf("%s: label names unknown action %q", e.ID, a)
					continue
				}
				if act.TakesTarget() != (len(ts) > 0) {
					t.Errorf("%s: label %q has targets %v, but the action takes a target: %v", e.ID, a, ts, act.TakesTarget())
				}
				for _, id := range ts {
					if k, ok := avail[id]; !ok || !act.Allows(k) {
						t.Errorf("%s: label %q accepts target %q (%q), which is absent or of a wrong kind", e.ID, a, id, k)
					}
				}
			}
			if d.Action.Target != "" && !slices.Contains(targets, d.Action.Target) {
				t.Errorf("%s: target %q not among acceptable %v", e.ID, d.Action.Target, targets)
			}
			for _, m := range e.Labels.Mentions {
				if !Mentions(d.Say, m) {
					t.Errorf("%s (%s): say %q does not mention %q", e.ID, e.Kind, d.Say, m)
				}
			}
			for _, s := range append(e.Heard(), d.Say) {
				if strings.ContainsAny(s, "{}") && !e.Labels.Injection {
					t.Errorf("%s (%s): unfilled slot in %q", e.ID, e.Kind, s)
				}
			}
			if !utf8.ValidString(e.Prompt()) || !utf8.ValidString(d.Say) {
				t.Errorf("%s: invalid UTF-8", e.ID)
			}
			if e.Split != split {
				t.Errorf("%s: split %q; want %q", e.ID, e.Split, split)
			}
		}
	}
}

// TestCoverage: the corpus exercises the whole catalog, both languages,
// injections, multi-turn conversations, ambient thinking and at least 30
// roles, in each split.
func TestCoverage(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []Split{Train, Heldout} {
		sum := NewSummary()
		silent, multiAction := 0, 0
		for _, e := range examples(t, split, 3000) {
			sum.Add(e)
			if len(e.Heard()) == 0 {
				silent++
			}
			if len(e.Labels.Actions) > 1 {
				multiAction++
			}
		}
		for _, a := range cat.Names() {
			if sum.ByAction[a] == 0 {
				t.Errorf("%s: action %q never decided", split, a)
			}
		}
		if len(sum.ByAction) < 20 {
			t.Errorf("%s: %d actions used; want ≥ 20", split, len(sum.ByAction))
		}
		if len(sum.ByRole) < 30 {
			t.Errorf("%s: %d roles used; want ≥ 30", split, len(sum.ByRole))
		}
		for _, l := range []Lang{English, Korean} {
			if sum.ByLang[l] < sum.Examples/3 {
				t.Errorf("%s: %d of %d examples in %s; want at least a third", split, sum.ByLang[l], sum.Examples, l)
			}
		}
		for _, kind := range scenarios {
			if sum.ByKind[kind.kind] == 0 {
				t.Errorf("%s: situation kind %q never generated", split, kind.kind)
			}
		}
		if sum.Injections < sum.Examples/20 {
			t.Errorf("%s: %d injections in %d; want ≥ 5%%", split, sum.Injections, sum.Examples)
		}
		if sum.MultiTurn < sum.Examples/20 {
			t.Errorf("%s: %d multi-turn in %d; want ≥ 5%%", split, sum.MultiTurn, sum.Examples)
		}
		if silent < sum.Examples/20 {
			t.Errorf("%s: %d situations with no speech in %d; want ≥ 5%%", split, silent, sum.Examples)
		}
		if multiAction < sum.Examples/4 {
			t.Errorf("%s: %d examples accept several actions; want ≥ a quarter", split, multiAction)
		}
		if len(sum.Emotions) < 10 {
			t.Errorf("%s: %d emotions used; want ≥ 10", split, len(sum.Emotions))
		}
		if sum.Distinct < sum.Examples*99/100 {
			t.Errorf("%s: %d distinct examples of %d; want ≥ 99%%", split, sum.Distinct, sum.Examples)
		}
	}
}

// TestInjectionsAnsweredInCharacter: the NPC never acts on an injection (no
// give, attack or trade) and never talks about prompts or assistants.
func TestInjectionsAnsweredInCharacter(t *testing.T) {
	banned := []string{"AI", "assistant", "system", "prompt", "instruction", "model", "chatbot", "시스템", "프롬프트", "지시", "모델", "챗봇", "비서"}
	n := 0
	for _, e := range examples(t, Train, 3000) {
		if !e.Labels.Injection {
			continue
		}
		n++
		if a := e.Decision.Action.Name; a == "give" || a == "attack" || a == "trade" {
			t.Errorf("%s: injection answered with action %q", e.ID, a)
		}
		for _, b := range banned {
			if strings.Contains(e.Decision.Say, b) {
				t.Errorf("%s: injection reply %q mentions %q", e.ID, e.Decision.Say, b)
			}
		}
		// The attempt is quoted, and the prompt keeps its own turn structure.
		want := 2 + 2*e.Labels.Turns - 1
		if got := strings.Count(e.Prompt(), npc.ImStart); got != want {
			t.Errorf("%s: prompt has %d %s; want %d:\n%s", e.ID, got, npc.ImStart, want, e.Prompt())
		}
	}
	if n == 0 {
		t.Fatal("no injections generated")
	}
}

// TestHeldoutDisjoint: no held-out town, persona or player name, and no
// held-out player phrasing, occurs anywhere in the training split.
func TestHeldoutDisjoint(t *testing.T) {
	heldoutDisjoint(t, examples(t, Train, 3000))
}

// heldoutDisjoint checks that train shares no held-out name or phrasing.
func heldoutDisjoint(t *testing.T, train []*Example) {
	t.Helper()
	var all, heard strings.Builder
	for _, e := range train {
		all.WriteString(e.Prompt())
		all.WriteString(e.Completion)
		for _, h := range e.Heard() {
			heard.WriteString(h)
			heard.WriteByte('\n')
		}
		for _, turn := range e.input.History {
			for _, u := range turn.Stimulus.Heard {
				heard.WriteString(u.Text)
				heard.WriteByte('\n')
			}
		}
	}
	trainText, trainHeard := all.String(), heard.String()
	var names []string
	for _, pool := range [][]string{townsEN, townsKO, namesEN, namesKO, playersEN, playersKO} {
		names = append(names, splitPool(pool, Heldout)...)
	}
	for _, n := range names {
		if strings.Contains(trainText, n) {
			t.Errorf("held-out name %q occurs in the training split", n)
		}
	}
	// Phrasings: the longest fixed part of each held-out template.
	for _, lines := range []map[string][]string{playerEN, playerKO} {
		for kind, tpls := range lines {
			for _, tpl := range splitPool(tpls, Heldout) {
				frag := longestLiteral(tpl)
				if utf8.RuneCountInString(frag) < 8 {
					continue // too short to be a phrasing of its own
				}
				if strings.Contains(trainHeard, frag) {
					t.Errorf("held-out %s phrasing %q: %q occurs in training player lines", kind, tpl, frag)
				}
			}
		}
	}
	// And the held-out split really uses its own pools.
	heldNames := map[string]bool{}
	for _, n := range names {
		heldNames[n] = true
	}
	for _, e := range examples(t, Heldout, 3000) {
		if !heldNames[e.Persona] || !heldNames[e.World] {
			t.Errorf("%s: persona %q in %q is not from the held-out pools", e.ID, e.Persona, e.World)
		}
	}
}

// longestLiteral returns the longest part of a template outside {slots}.
func longestLiteral(tpl string) string {
	best := ""
	for _, part := range strings.FieldsFunc(tpl, func(r rune) bool { return r == '{' || r == '}' }) {
		if strings.Contains(tpl, "{"+part+"}") {
			continue // a slot name
		}
		if len(part) > len(best) {
			best = part
		}
	}
	return strings.TrimSpace(best)
}

// TestGrounding: replies use the facts of their situation — the asked
// place's name, the item traded, the name the player told earlier.
func TestGrounding(t *testing.T) {
	checked := map[string]int{}
	for _, e := range examples(t, Train, 3000) {
		switch e.Kind {
		case "ask_place", "buy", "name", "promise", "remember", "lore", "ask_person":
			if len(e.Labels.Mentions) == 0 {
				t.Errorf("%s (%s): no grounding facts labelled", e.ID, e.Kind)
			}
			checked[e.Kind]++
		}
		if e.Kind == "name" {
			// The name is only in the conversation, not in what is seen.
			told := e.Labels.Mentions[len(e.Labels.Mentions)-1]
			if !strings.Contains(e.input.History[0].Stimulus.Heard[0].Text, told) {
				t.Errorf("%s: name %q was not told in the first turn", e.ID, told)
			}
			for _, s := range e.input.Now.Seen {
				if s.Name == told {
					t.Errorf("%s: name %q is given away by the perception", e.ID, told)
				}
			}
		}
	}
	for _, k := range []string{"ask_place", "buy", "name", "promise", "remember", "lore", "ask_person"} {
		if checked[k] == 0 {
			t.Errorf("kind %q never generated", k)
		}
	}
}

func TestParticle(t *testing.T) {
	cases := []struct{ word, p, want string }{
		{"주막", "을", "을"}, {"장터", "을", "를"}, {"대장간", "이", "이"}, {"우물", "이", "이"},
		{"나루터", "이", "가"}, {"장터", "은", "는"}, {"주막", "은", "은"}, {"서울", "으로", "로"},
		{"주막", "으로", "으로"}, {"장터", "으로", "로"}, {"민준", "아", "아"}, {"지호", "아", "야"},
		{"서연", "이에요", "이에요"}, {"지호", "이에요", "예요"}, {"3", "을", "을"}, {"2", "을", "를"},
		{"Aren", "은", "는"}, {"막걸리 한 사발", "을", "을"}, {"못 한 상자", "을", "를"},
	}
	for _, c := range cases {
		if got := particle(c.word, c.p); got != c.want {
			t.Errorf("particle(%q, %q) = %q; want %q", c.word, c.p, got, c.want)
		}
	}
	if got := fill("{p|이} {q|을} 샀다. {x}", vars{"p": "민준", "q": "배"}); got != "민준이 배를 샀다. {x}" {
		t.Errorf("fill = %q; want %q", got, "민준이 배를 샀다. {x}")
	}
}

// TestTemplates: every template's slots and particles are ones the
// generator fills, and every kind has phrasings in both splits.
func TestTemplates(t *testing.T) {
	slots := map[string]bool{"self": true, "town": true, "role": true, "work": true, "addr": true, "pname": true, "ruler": true,
		"product": true, "creature": true, "creature1": true, "dplace": true, "festival": true, "fplace": true,
		"season": true, "place": true, "loc": true, "kind": true, "npc": true, "nrole": true, "item": true,
		"price": true, "offer": true, "counter": true, "obj": true}
	check := func(where, tpl string) {
		rest := tpl
		for {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				return
			}
			j := strings.IndexByte(rest[i:], '}')
			if j < 0 {
				t.Errorf("%s: unclosed slot in %q", where, tpl)
				return
			}
			key, p, hasP := strings.Cut(rest[i+1:i+j], "|")
			if !slots[key] && !strings.HasPrefix(key, "\"") {
				t.Errorf("%s: unknown slot %q in %q", where, key, tpl)
			}
			if _, ok := josa[p]; hasP && !ok {
				t.Errorf("%s: unknown particle %q in %q", where, p, tpl)
			}
			rest = rest[i+j+1:]
		}
	}
	for lang, lines := range map[string]map[string][]string{"en": playerEN, "ko": playerKO} {
		for kind, tpls := range lines {
			if len(splitPool(tpls, Heldout)) == 0 || len(splitPool(tpls, Train)) == 0 {
				t.Errorf("%s %s: %d phrasings leave a split empty", lang, kind, len(tpls))
			}
			for _, tpl := range tpls {
				if kind != "injection" {
					check(lang+" "+kind, tpl)
				}
			}
		}
	}
	if len(playerEN) != len(playerKO) {
		t.Errorf("%d English player line kinds, %d Korean", len(playerEN), len(playerKO))
	}
	for key, tpls := range replyKO {
		for _, tpl := range tpls {
			check("ko "+key, tpl)
		}
	}
	for key, tpls := range replyEN {
		for _, tpl := range tpls {
			check("en "+key, tpl)
		}
	}
	if len(roles) < 30 {
		t.Errorf("%d roles; want ≥ 30", len(roles))
	}
	for _, r := range roles {
		if placeTypeByKey(r.work) == nil {
			t.Errorf("role %s works at unknown place type %q", r.key, r.work)
		}
		for _, tr := range r.traits {
			if _, ok := traits[tr]; !ok {
				t.Errorf("role %s has unknown trait %q", r.key, tr)
			}
		}
		for _, g := range r.goods {
			if _, ok := items[g]; !ok {
				t.Errorf("role %s sells unknown item %q", r.key, g)
			}
		}
		if objectsByPlace[r.work] == nil {
			t.Errorf("role %s works at %q, which has no objects", r.key, r.work)
		}
	}
	for _, it := range items {
		if _, ok := koNum[it.price]; !ok {
			t.Errorf("item %q costs %d, which has no Korean numeral", it.en, it.price)
		}
	}
}

func TestSummaryWrite(t *testing.T) {
	sum := NewSummary()
	for _, e := range examples(t, Train, 3000)[:50] {
		sum.Add(e)
	}
	var b strings.Builder
	if err := sum.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"examples 50 (distinct 50)", "\nactions (", "\nroles (", "\nlanguages (2)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

func BenchmarkExample(b *testing.B) {
	cat, err := catalog.Default()
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(cat, 1, Train, nil)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := g.Example(i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}
