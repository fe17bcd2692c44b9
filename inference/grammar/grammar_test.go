package grammar

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// npcSchema is the decision schema of DESIGN.md as npc builds it: the
// action's name is a const per variant, and each action may only target
// the ids present that it allows.
const npcSchema = `{
  "type": "object",
  "properties": {
    "emotion": {"enum": ["calm", "wary", "angry", "afraid", "happy"]},
    "action": {"anyOf": [
      {"type": "object", "properties": {"name": {"const": "follow"}, "target": {"enum": ["player_1", "guard_2"]}}, "required": ["name", "target"]},
      {"type": "object", "properties": {"name": {"const": "flee"}, "target": {"enum": ["wolf_3"]}}, "required": ["name", "target"]},
      {"type": "object", "properties": {"name": {"const": "give"}, "target": {"enum": ["player_1"]}, "item": {"enum": ["bread_4", "coin_5"]}}, "required": ["name", "target", "item"]},
      {"type": "object", "properties": {"name": {"const": "go_to"}, "target": {"enum": ["market", null]}}, "required": ["name", "target"]},
      {"type": "object", "properties": {"name": {"const": "idle"}}, "required": ["name"], "additionalProperties": false}
    ]},
    "say": {"type": "string", "maxLength": 600}
  },
  "required": ["emotion", "action", "say"],
  "additionalProperties": false
}`

// propertySchemas exercise every supported construct.
var propertySchemas = map[string]string{
	"npc": npcSchema,
	"numbers": `{"type":"object","properties":{
		"hp":{"type":"integer","minimum":-5,"maximum":120},
		"big":{"type":"integer","minimum":1000},
		"neg":{"type":"integer","maximum":-3},
		"ratio":{"type":"number","minimum":0.25,"maximum":1.5},
		"temp":{"type":"number","exclusiveMinimum":-40,"exclusiveMaximum":60.5},
		"any":{"type":"number"},
		"n":{"type":"integer"}},
		"required":["hp","big","neg","ratio","temp","any","n"]}`,
	"optional": `{"type":"object","properties":{
		"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"string","minLength":2,"maxLength":3},"d":{"type":"integer","minimum":0,"maximum":9}},
		"required":["c"]}`,
	"all optional": `{"type":"object","properties":{"x":{"type":"boolean"},"y":{"type":["string","null"],"maxLength":4}}}`,
	"arrays": `{"type":"object","properties":{
		"tags":{"type":"array","items":{"type":"string","maxLength":5},"maxItems":3},
		"some":{"type":"array","items":{"enum":[1,2,3]},"minItems":2},
		"grid":{"type":"array","items":{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2},"maxItems":2},
		"objs":{"type":"array","items":{"type":"object","properties":{"k":{"const":"v"},"n":{"type":"integer","minimum":0,"maximum":3}},"required":["k"]},"maxItems":2}},
		"required":["tags","some","grid","objs"]}`,
	"refs": `{"$defs":{"pos":{"type":"object","properties":{"x":{"type":"integer","minimum":0,"maximum":99},"y":{"type":"integer","minimum":0,"maximum":99}},"required":["x","y"]}},
		"type":"object","properties":{"from":{"$ref":"#/$defs/pos"},"to":{"$ref":"#/$defs/pos"},"note":{"type":"string","minLength":1,"maxLength":40}},"required":["from","to","note"]}`,
	"top string": `{"type":"string","maxLength":12}`,
	"top number": `{"type":"number","minimum":-1,"maximum":1}`,
	"oneOf": `{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"v":{"type":"integer"}},"required":["kind","v"]},
		{"type":"object","properties":{"kind":{"const":"b"},"v":{"type":"string","maxLength":3}},"required":["kind","v"]}]}`,
	"enum mixed": `{"enum":["x","xy",1,12,true,null,{"k":[1,"a"]},["q"]]}`,
}

// walk is one random generation: random allowed tokens, forced runs taken
// whole, cut off by Close after maxTokens. It checks at every step that the
// mask is exact on a sample (allowed tokens are accepted, others are
// refused and leave the matcher unchanged) and returns the output and the
// streamed field text.
func walk(t testing.TB, g *Grammar, m *Matcher, rng *rand.Rand, maxTokens int, field string) (out []byte, streamed []byte, forced, total int) {
	t.Helper()
	v := g.Vocab()
	m.Reset()
	if field != "" {
		if err := m.StreamField(field); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int32
	for total < maxTokens && !m.Done() {
		if f := m.Forced(); len(f) > 0 {
			mask := m.Mask()
			for _, id := range f {
				if !m.Done() && !mask.Has(id) && !v.isEOG(id) {
					t.Fatalf("forced token %d (%q) is outside the mask", id, v.Token(id))
				}
				if err := m.Accept(id); err != nil {
					t.Fatalf("after %q: forced %d: %v", out, id, err)
				}
				out = append(out, v.Token(id)...)
				forced++
				total++
				if !m.Done() {
					mask = m.Mask()
				}
			}
			streamed = m.AppendDelta(streamed)
			continue
		}
		mask, sparse := m.Allowed()
		ids = mask.AppendIDs(ids[:0])
		if sparse != nil && !slices.Equal(sparse, ids) {
			t.Fatalf("after %q: Allowed lists %v; the mask holds %v", out, sparse, ids)
		}
		if sparse == nil && len(ids) <= MaxSparse {
			t.Fatalf("after %q: Allowed lists nothing for a mask of %d", out, len(ids))
		}
		if len(ids) == 0 {
			t.Fatalf("after %q: empty mask in a live state", out)
		}
		// A refused token must leave the state as it was.
		for range 3 {
			bad := int32(rng.IntN(v.Size()))
			if !mask.Has(bad) {
				if err := m.Accept(bad); !errors.Is(err, ErrRejected) {
					t.Fatalf("after %q: token %d (%q) outside the mask: Accept = %v; want ErrRejected", out, bad, v.Token(bad), err)
				}
			}
		}
		pick := ids[rng.IntN(len(ids))]
		if rng.IntN(3) == 0 { // lean towards closing strings and values
			var enders []int32
			for _, id := range ids {
				if b := v.Token(id); v.isEOG(id) || bytes.ContainsAny(b, `"]}`) {
					enders = append(enders, id)
				}
			}
			if len(enders) > 0 {
				pick = enders[rng.IntN(len(enders))]
			}
		}
		if err := m.Accept(pick); err != nil {
			t.Fatalf("after %q: token %d (%q) from the mask: %v", out, pick, v.Token(pick), err)
		}
		out = append(out, v.Token(pick)...)
		total++
		streamed = m.AppendDelta(streamed)
	}
	if !m.Done() {
		out = append(out, m.Close()...)
		streamed = m.AppendDelta(streamed)
	}
	return out, streamed, forced, total
}

// TestRandomWalksValidate is the property test: thousands of seeded random
// generations over each schema, on both vocabularies, stopped at random
// lengths and closed, all parse and validate, and the streamed field equals
// the field's final value.
func TestRandomWalksValidate(t *testing.T) {
	vocabs := map[string]*Vocab{"small": smallVocab(t)}
	if testing.Short() {
		t.Log("short: small vocabulary only")
	} else if v := tryReferenceVocab(t); v != nil {
		vocabs["reference"] = v
	}
	for vname, v := range vocabs {
		for name, schema := range propertySchemas {
			t.Run(vname+"/"+name, func(t *testing.T) {
				g, err := Compile([]byte(schema), v)
				if err != nil {
					t.Fatal(err)
				}
				field := ""
				if name == "npc" {
					field = "say"
				}
				m := g.NewMatcher()
				rng := rand.New(rand.NewPCG(1, uint64(len(name))))
				n := 400
				if testing.Short() {
					n = 100
				}
				for i := range n {
					out, streamed, _, _ := walk(t, g, m, rng, 1+rng.IntN(80), field)
					got := checkOutput(t, schema, out)
					if field != "" {
						if !m.FieldDone() {
							t.Fatalf("walk %d: %q: field %q never closed", i, out, field)
						}
						if say := got.field(field); say == nil || string(streamed) != say.s {
							t.Fatalf("walk %d: streamed %q; the output %q says %v", i, streamed, out, say)
						}
					}
				}
			})
		}
	}
}

func tryReferenceVocab(t *testing.T) *Vocab {
	var v *Vocab
	t.Run("load reference", func(t *testing.T) { v = referenceVocab(t) })
	return v
}

// drive feeds text to a matcher as the given vocabulary tokenizes it
// (greedily), returning the streamed deltas.
func drive(t *testing.T, m *Matcher, v *Vocab, text string) []string {
	t.Helper()
	var deltas []string
	for _, id := range v.tokenize([]byte(text)) {
		if err := m.Accept(id); err != nil {
			t.Fatalf("drive %q: %v", text, err)
		}
		if d := m.AppendDelta(nil); len(d) > 0 {
			deltas = append(deltas, string(d))
		}
	}
	return deltas
}

func TestStreamFieldUnescapes(t *testing.T) {
	v := smallVocab(t)
	g, err := Compile([]byte(npcSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		json string // the say field's JSON spelling
		want string
	}{
		{`Stay close.`, "Stay close."},
		{`안녕하세요, 다리`, "안녕하세요, 다리"},
		{`He said \"no\"\nand left \\ ok\/`, "He said \"no\"\nand left \\ ok/"},
		{`\u00e9\uac00 \ud83d\ude00 😀`, "é가 😀 😀"},
		{`tab\there\b\f\r`, "tab\there\b\f\r"},
		{``, ""},
	}
	for _, tt := range tests {
		m := g.NewMatcher()
		if err := m.StreamField("say"); err != nil {
			t.Fatal(err)
		}
		deltas := drive(t, m, v, `{"emotion":"calm","action":{"name":"idle"},"say":"`+tt.json+`"}`)
		for _, d := range deltas {
			if !utf8.ValidString(d) {
				t.Errorf("delta %q of %q is not valid UTF-8", d, tt.json)
			}
		}
		if got := strings.Join(deltas, ""); got != tt.want {
			t.Errorf("stream of %q = %q; want %q", tt.json, got, tt.want)
		}
		if !m.FieldDone() || !m.Done() {
			t.Errorf("after %q: FieldDone = %v, Done = %v; want true, true", tt.json, m.FieldDone(), m.Done())
		}
	}
}

// TestStreamKoreanSplitAcrossTokens checks that a Hangul syllable split
// between tokens (as byte-level BPE splits it) is held back until whole.
func TestStreamKoreanSplitAcrossTokens(t *testing.T) {
	v := smallVocab(t)
	g, err := Compile([]byte(`{"type":"object","properties":{"say":{"type":"string"}},"required":["say"]}`), v)
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	if err := m.StreamField("say"); err != nil {
		t.Fatal(err)
	}
	id := func(s string) int32 {
		for i := range v.Size() {
			if string(v.Token(int32(i))) == s {
				return int32(i)
			}
		}
		t.Fatalf("no token %q", s)
		return -1
	}
	steps := []struct {
		tok  string
		want string
	}{
		{`{"`, ""}, {"say", ""}, {`":"`, ""},
		{"\xec\x95", ""},           // the first two bytes of 안
		{"\x88\xeb\x85\x95", "안녕"}, // its last byte, then 녕 whole
		{"\xf0\x9f", ""},           // half an emoji
		{"\x98\x80", "😀"},
		{`"}`, ""},
	}
	for _, s := range steps {
		if err := m.Accept(id(s.tok)); err != nil {
			t.Fatalf("Accept(%q): %v", s.tok, err)
		}
		if got := string(m.AppendDelta(nil)); got != s.want {
			t.Errorf("delta after %q = %q; want %q", s.tok, got, s.want)
		}
	}
}

func TestForcedScaffolding(t *testing.T) {
	v := smallVocab(t)
	g, err := Compile([]byte(npcSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	text := func(ids []int32) string {
		var b []byte
		for _, id := range ids {
			b = append(b, v.Token(id)...)
		}
		return string(b)
	}
	accept := func(ids []int32) {
		for _, id := range ids {
			if err := m.Accept(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := text(m.Forced()); got != `{"emotion":"` {
		t.Errorf("Forced() at start = %q; want %q", got, `{"emotion":"`)
	}
	accept(m.Forced())
	accept(v.tokenize([]byte("wary")))
	if got := text(m.Forced()); got != `","action":{"name":"` {
		t.Errorf("Forced() after the emotion = %q; want %q", got, `","action":{"name":"`)
	}
	accept(m.Forced())
	accept(v.tokenize([]byte("fol")))
	if got := text(m.Forced()); got != `low","target":"` {
		t.Errorf(`Forced() after "fol" = %q; want %q`, got, `low","target":"`)
	}
	accept(m.Forced())
	// Only follow's targets may come next.
	mask := m.Mask()
	for _, s := range []string{"p", "g"} {
		if !mask.Has(v.tokenize([]byte(s))[0]) {
			t.Errorf("mask after follow lacks %q", s)
		}
	}
	for _, s := range []string{"w", "m", "n"} {
		if mask.Has(v.tokenize([]byte(s))[0]) {
			t.Errorf("mask after follow allows %q, a target follow cannot take", s)
		}
	}
	accept(v.tokenize([]byte("g")))
	if got := text(m.Forced()); got != `uard_2"},"say":"` {
		t.Errorf(`Forced() after "g" = %q; want %q`, got, `uard_2"},"say":"`)
	}
	accept(m.Forced())
	if f := m.Forced(); f != nil {
		t.Errorf("Forced() inside say = %q; want none", text(f))
	}
	accept(v.tokenize([]byte(`Hi"`)))
	f := m.Forced()
	if len(f) != 2 || text(f[:1]) != "}" || f[1] != v.stop {
		t.Errorf("Forced() after say = %v; want } and the stop token", f)
	}
	accept(f)
	if !m.Done() {
		t.Error("Done() = false after the stop token")
	}
}

func TestForcedReferenceTokenization(t *testing.T) {
	tok := referenceTokenizer(t)
	v, err := FromTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Compile([]byte(npcSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	f := m.Forced()
	want := tok.Encode(`{"emotion":"`)
	// The run is the tokenizer's own encoding, perhaps less a last token
	// that could merge with what follows.
	if len(f) == 0 || len(f) > len(want) {
		t.Fatalf("Forced() = %v; want a prefix of Encode = %v", f, want)
	}
	for i := range f {
		if f[i] != want[i] {
			t.Fatalf("Forced() = %v; want a prefix of Encode = %v", f, want)
		}
	}
}

func TestEdgeValues(t *testing.T) {
	v := smallVocab(t)
	tests := []struct {
		schema string
		text   string
		ok     bool
	}{
		{`{"type":"integer","minimum":-5,"maximum":120}`, `-5`, true},
		{`{"type":"integer","minimum":-5,"maximum":120}`, `-6`, false},
		{`{"type":"integer","minimum":-5,"maximum":120}`, `120`, true},
		{`{"type":"integer","minimum":-5,"maximum":120}`, `121`, false},
		{`{"type":"integer","minimum":-5,"maximum":120}`, `007`, false},
		{`{"type":"integer"}`, `-0`, false},
		{`{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10}`, `0`, false},
		{`{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10}`, `9`, true},
		{`{"type":"integer","minimum":1.5}`, `1`, false},
		{`{"type":"integer","minimum":1.5}`, `2`, true},
		{`{"type":"number","minimum":0.25,"maximum":1.5}`, `0.25`, true},
		{`{"type":"number","minimum":0.25,"maximum":1.5}`, `0.2499`, false},
		{`{"type":"number","minimum":0.25,"maximum":1.5}`, `1.5000`, true},
		{`{"type":"number","minimum":0.25,"maximum":1.5}`, `1.5001`, false},
		{`{"type":"number"}`, `-0.5`, true},
		{`{"type":"number"}`, `1.`, false},
		{`{"type":"number"}`, `1.1234567`, false},
		{`{"type":"number"}`, `1e5`, false},
		{`{"type":"string","maxLength":2}`, `"안녕"`, true},
		{`{"type":"string","maxLength":2}`, `"안녕!"`, false},
		{`{"type":"string","maxLength":1}`, `"\ud83d\ude00"`, true},
		{`{"type":"string","maxLength":1}`, `"\n"`, true},
		{`{"type":"string"}`, `"\ude00"`, false},
		{`{"type":"string"}`, `"\ud83d"`, false},
		{`{"type":"string"}`, "\"a\x01\"", false},
		{`{"type":"string"}`, "\"\xff\"", false},
		{`{"type":"string"}`, "\"\xed\xa0\x80\"", false},
		{`{"type":"string","minLength":2}`, `"a"`, false},
		{`{"enum":["fol","follow"]}`, `"fol"`, true},
		{`{"enum":["fol","follow"]}`, `"foll"`, false},
		{`{"const":{"a":[1,true]}}`, `{"a":[1,true]}`, true},
		{`{"type":"object","properties":{"a":{"type":"boolean"}}}`, `{ "a":true}`, false},
		{`{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"}}}`, `{"b":null,"a":true}`, false},
		{`{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"}}}`, `{"b":null}`, true},
		{`{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"}}}`, `{}`, true},
		{`{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[]`, false},
		{`{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[1,2]`, true},
		{`{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[1,2,3]`, false},
		{`{"type":"array","items":{"type":"integer"}}`, `[1,2,3,4,5,6]`, true},
	}
	for _, tt := range tests {
		g, err := Compile([]byte(tt.schema), v)
		if err != nil {
			t.Fatalf("Compile(%s): %v", tt.schema, err)
		}
		m := g.NewMatcher()
		err = nil
		for i := 0; i < len(tt.text) && err == nil; i++ {
			err = m.Accept(v.tokenize([]byte(tt.text[i : i+1]))[0])
		}
		got := err == nil && m.Complete()
		if got != tt.ok {
			t.Errorf("%s accepts %q = %v (%v); want %v", tt.schema, tt.text, got, err, tt.ok)
		}
	}
}

func TestCloseCompletes(t *testing.T) {
	v := smallVocab(t)
	tests := []struct {
		schema string
		prefix string
		want   string
	}{
		{npcSchema, `{"emotion":"wa`, `ry","action":{"name":"flee","target":"wolf_3"},"say":""}`},
		{npcSchema, `{"emotion":"calm","action":{"name":"idle"},"say":"Stay \u00`, `00"}`},
		{`{"type":"object","properties":{"n":{"type":"integer","minimum":1000}},"required":["n"]}`, `{"n":`, `1000}`},
		{`{"type":"object","properties":{"n":{"type":"integer","maximum":-3}},"required":["n"]}`, `{"n":`, `-3}`},
		{`{"type":"string","minLength":3}`, `"`, `000"`},
		{`{"type":"array","items":{"type":"boolean"},"minItems":2}`, `[`, `false,false]`},
		{`{"type":"number","minimum":0.25}`, ``, `0.25`},
		{`{"type":"number","maximum":-1.5}`, ``, `-1.5`},
		{`{"type":"object","properties":{"r":{"type":"number","minimum":-2,"maximum":3}}}`, `{"r":`, `0}`},
	}
	for _, tt := range tests {
		g, err := Compile([]byte(tt.schema), v)
		if err != nil {
			t.Fatal(err)
		}
		m := g.NewMatcher()
		for i := 0; i < len(tt.prefix); i++ {
			if err := m.Accept(v.tokenize([]byte(tt.prefix[i : i+1]))[0]); err != nil {
				t.Fatalf("%q: %v", tt.prefix[:i+1], err)
			}
		}
		if got := string(m.Close()); got != tt.want {
			t.Errorf("Close() after %q = %q; want %q", tt.prefix, got, tt.want)
		}
		checkOutput(t, tt.schema, []byte(tt.prefix+tt.want))
		if !m.Done() {
			t.Errorf("Done() after Close = false")
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	v := smallVocab(t)
	tests := []struct {
		schema string
		path   string // the JSON pointer the error names, or "" for a parse error
		want   string // in the message
	}{
		{`{"type":"object","properties":{"a":{"type":"string","pattern":"x"}}}`, "/properties/a", `unsupported keyword "pattern"`},
		{`{"type":"string","maxLength":-1}`, "/maxLength", "non-negative"},
		{`{"type":"string","maxLength":"3"}`, "/maxLength", "non-negative integer, got string"},
		{`{"type":"string","minLength":5,"maxLength":3}`, "", "minLength 5 exceeds maxLength 3"},
		{`{"enum":[]}`, "/enum", "non-empty"},
		{`{"enum":["a","a"]}`, "/enum/1", "duplicate"},
		{`{"type":"string","enum":["a",1]}`, "/enum/1", "does not match type"},
		{`{"type":"string","enum":["abc"],"maxLength":2}`, "/enum/0", "longer than maxLength"},
		{`{"type":"integer","minimum":5,"maximum":4}`, "", "no integer lies in the range"},
		{`{"type":"thing"}`, "/type", `unsupported type "thing"`},
		{`{"type":3}`, "/type", "must be a type name"},
		{`{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, "/$defs/a/$ref", "recursive reference"},
		{`{"$ref":"#/$defs/none"}`, "/$ref", "does not resolve"},
		{`{"$ref":"http://example.com/s.json"}`, "/$ref", "only local references"},
		{`{"type":"object","required":["x"]}`, "/required/0", "not in properties"},
		{`{"type":"object","properties":{"a":{"type":"boolean"}},"additionalProperties":{"type":"string"}}`, "/additionalProperties", "only true or false"},
		{`{"type":"array"}`, "", `without "items"`},
		{`{"type":"array","items":{"type":"boolean"},"maxItems":100000}`, "", "limited to"},
		{`{"anyOf":[]}`, "/anyOf", "non-empty"},
		{`{"anyOf":[{"type":"string"}],"type":"string"}`, "", `keyword "type" beside anyOf`},
		{`{"maxLength":3}`, "", `needs "type"`},
		{`{}`, "", "unconstrained"},
		{`true`, "", "must be an object"},
		{`{"type":"object","properties":{"a":true}}`, "/properties/a", "must be an object"},
		{`{"type":"integer","minimum":"0"}`, "/minimum", "must be a number"},
		{`{"type":"string","maxLength":2000000}`, "/maxLength", "too large"},
		{`{"enum":["a","b"],"const":"a"}`, "", "both enum and const"},
		{`{"type":"string",}`, "", ""},
		{`{"type":"string","type":"integer"}`, "", "duplicate key"},
		{strings.Repeat(`{"type":"array","items":`, 40) + `{"type":"null"}` + strings.Repeat(`}`, 40), "", "nested deeper"},
	}
	for _, tt := range tests {
		_, err := Compile([]byte(tt.schema), v)
		if err == nil {
			t.Errorf("Compile(%s) = nil error; want one", tt.schema)
			continue
		}
		if !strings.HasPrefix(err.Error(), "grammar: compile: ") {
			t.Errorf("Compile(%s) = %q; want the grammar: compile: prefix", tt.schema, err)
		}
		var se *SchemaError
		if tt.path != "" && (!errors.As(err, &se) || se.Path != tt.path) {
			t.Errorf("Compile(%s) = %v; want a SchemaError at %q", tt.schema, err, tt.path)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%s) = %q; want it to say %q", tt.schema, err, tt.want)
		}
	}
}

func TestSchemaTooLarge(t *testing.T) {
	v := smallVocab(t)
	big := make([]byte, MaxSchemaBytes+1)
	if _, err := Compile(big, v); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Compile(%d bytes) = %v; want ErrTooLarge", len(big), err)
	}
	var enum strings.Builder
	enum.WriteString(`{"enum":[`)
	for i := range MaxEnum + 1 {
		if i > 0 {
			enum.WriteByte(',')
		}
		enum.WriteString(`"v`)
		enum.WriteString(strings.Repeat("x", i%7))
		enum.WriteString(string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)) + `"`)
	}
	enum.WriteString(`]}`)
	if _, err := Compile([]byte(enum.String()), v); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Compile(an enum of %d) = %v; want ErrTooLarge", MaxEnum+1, err)
	}
	// Arrays of arrays multiply nodes: the limit stops them.
	nested := `{"type":"array","maxItems":256,"items":{"type":"array","maxItems":256,"items":{"type":"array","maxItems":256,"items":{"type":"string"}}}}`
	if _, err := Compile([]byte(nested), v); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Compile(nested arrays) = %v; want ErrTooLarge", err)
	}
}

func TestStreamFieldUnknown(t *testing.T) {
	g, err := Compile([]byte(npcSchema), smallVocab(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"emotion", "nope", "action.name"} {
		if err := g.NewMatcher().StreamField(path); err == nil {
			t.Errorf("StreamField(%q) = nil; want an error (not a free string)", path)
		}
	}
}

func TestApplyMask(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 200} {
		mask := NewBitset(n)
		for i := 0; i < n; i += 3 {
			mask.Set(int32(i))
		}
		logits := make([]float32, n)
		ApplyMask(logits, mask)
		for i, l := range logits {
			if allowed := i%3 == 0; allowed != (l == 0) {
				t.Errorf("ApplyMask(n=%d): logit %d = %v; allowed %v", n, i, l, allowed)
			}
		}
	}
}

func TestAcceptRejectsEOGEarlyAndAfterDone(t *testing.T) {
	v := smallVocab(t)
	g, err := Compile([]byte(`{"type":"boolean"}`), v)
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	if err := m.Accept(v.stop); !errors.Is(err, ErrRejected) {
		t.Errorf("Accept(stop) at start = %v; want ErrRejected", err)
	}
	if m.Mask().Has(v.stop) {
		t.Error("Mask() at start allows the stop token")
	}
	for _, id := range v.tokenize([]byte("true")) {
		if err := m.Accept(id); err != nil {
			t.Fatal(err)
		}
	}
	if !m.Mask().Has(v.stop) || m.Mask().Count() != len(v.eog) {
		t.Errorf("Mask() after true = %d tokens; want only the %d end tokens", m.Mask().Count(), len(v.eog))
	}
	if err := m.Accept(v.stop); err != nil {
		t.Fatal(err)
	}
	if err := m.Accept(v.stop); !errors.Is(err, ErrRejected) {
		t.Errorf("Accept after done = %v; want ErrRejected", err)
	}
}

// TestFreeStringMaskMatchesWalk checks the vocabulary-table shortcut for
// free text against the plain trie walk, in every string sub-state a
// token can end in.
func TestFreeStringMaskMatchesWalk(t *testing.T) {
	for vname, v := range map[string]*Vocab{"small": smallVocab(t), "synthetic": syntheticVocab(t, 20000)} {
		g, err := Compile([]byte(npcSchema), v)
		if err != nil {
			t.Fatal(err)
		}
		for _, say := range []string{"", "Stay", "안녕\xec", "\xf0\x9f", "a\\", "\xed", "\xe0", "\xf4"} {
			m := g.NewMatcher()
			drive(t, m, v, `{"emotion":"calm","action":{"name":"idle"},"say":"`+say)
			fast, walked := NewBitset(v.Size()), NewBitset(v.Size())
			g.mu.Lock()
			if !g.freeStringMask(fast, m.cur) {
				t.Errorf("%s: freeStringMask after %q declined", vname, say)
			}
			g.walk.buf = g.walk.buf[:0]
			g.computeMaskWalk(walked, m.cur)
			g.mu.Unlock()
			if fast.Count() != walked.Count() {
				t.Errorf("%s: after %q: table mask has %d tokens; the walk %d", vname, say, fast.Count(), walked.Count())
			}
			for i := range fast {
				if fast[i] != walked[i] {
					t.Errorf("%s: after %q: masks differ in word %d", vname, say, i)
					break
				}
			}
		}
	}
}

func TestApplyMaskRuns(t *testing.T) {
	n := 1000
	mask := NewBitset(n)
	for _, id := range []int32{0, 5, 64, 700, 999} {
		mask.Set(id)
	}
	logits := make([]float32, n)
	ApplyMask(logits, mask)
	for i, l := range logits {
		if allowed := mask.Has(int32(i)); allowed != (l == 0) {
			t.Errorf("ApplyMask: logit %d = %v; allowed %v", i, l, allowed)
		}
	}
	short := Bitset{1} // shorter than the logits: the rest is disallowed
	logits = make([]float32, 200)
	ApplyMask(logits, short)
	if logits[0] != 0 || logits[1] == 0 || logits[199] == 0 {
		t.Errorf("ApplyMask with a short mask = %v ... %v; want only id 0 allowed", logits[:2], logits[199])
	}
}

// TestConcurrentMatchers shares one Grammar (and its caches) between
// matchers on several goroutines, as the scheduler's cached grammars are;
// run with -race.
func TestConcurrentMatchers(t *testing.T) {
	v := smallVocab(t)
	g, err := Compile([]byte(npcSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for w := range 4 {
		// Each goroutine exits after its walks.
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			m := g.NewMatcher()
			var ids []int32
			for range 50 {
				m.Reset()
				var out []byte
				for n := rng.IntN(60); n > 0 && !m.Done(); n-- {
					f := m.Forced()
					if len(f) == 0 {
						ids = m.Mask().AppendIDs(ids[:0])
						f = ids[rng.IntN(len(ids)):][:1]
					}
					for _, id := range f {
						if err := m.Accept(id); err != nil {
							errs <- err
							return
						}
						out = append(out, v.Token(id)...)
					}
				}
				out = append(out, m.Close()...)
				if _, err := decodeJV(out); err != nil {
					errs <- fmt.Errorf("%q: %w", out, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestStepAllocatesNothing: once a generation's states are cached, the
// per-step calls (Forced, Allowed, ApplyMask, Accept, AppendDelta) allocate
// nothing.
func TestStepAllocatesNothing(t *testing.T) {
	v := smallVocab(t)
	g, err := Compile([]byte(npcSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	if err := m.StreamField("say"); err != nil {
		t.Fatal(err)
	}
	ids, _ := replay(t, m, typicalDecision)
	logits := make([]float32, v.Size())
	delta := make([]byte, 0, 256)
	run := func() {
		m.Reset()
		for i := 0; i < len(ids); {
			if f := m.Forced(); len(f) > 0 {
				for _, id := range f {
					_ = m.Accept(id)
				}
				i += len(f)
				continue
			}
			mask, _ := m.Allowed()
			ApplyMask(logits, mask)
			if err := m.Accept(ids[i]); err != nil {
				t.Fatal(err)
			}
			delta = m.AppendDelta(delta[:0])
			i++
		}
	}
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("a warm decision allocates %v times; want 0", n)
	}
}
