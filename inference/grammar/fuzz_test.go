package grammar

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// FuzzCompile: any bytes as a schema compile or fail with a grammar error,
// never panic; whatever compiles generates compact JSON on a random walk.
func FuzzCompile(f *testing.F) {
	v := smallVocab(f)
	for _, s := range propertySchemas {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"type":"string","maxLength":-1}`, `{"enum":[]}`, `{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`,
		`{"type":["integer","null"],"minimum":3}`, `{"type":"array","items":{"type":"array","items":{"type":"null"}}}`,
		`{"anyOf":[{"const":1},{"const":12}]}`, `{"type":"number","exclusiveMinimum":1e-7,"maximum":1e-6}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, schema []byte) {
		g, err := Compile(schema, v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "grammar: compile: ") {
				t.Fatalf("Compile error %q lacks the grammar: compile: prefix", err)
			}
			return
		}
		if g.Nodes() > 20000 {
			return // valid but slow to walk; the limits are tested elsewhere
		}
		rng := rand.New(rand.NewPCG(uint64(len(schema)), 7))
		m := g.NewMatcher()
		for range 3 {
			out, _, _, _ := walk(t, g, m, rng, 1+rng.IntN(30), "")
			var compact bytes.Buffer
			if err := json.Compact(&compact, out); err != nil || !bytes.Equal(compact.Bytes(), out) {
				t.Fatalf("schema %s: output %q is not compact JSON (%v)", schema, out, err)
			}
		}
	})
}

// FuzzMatcher: any token sequence fed to a matcher is accepted or refused
// without a panic, and what was accepted, closed, validates.
func FuzzMatcher(f *testing.F) {
	v := smallVocab(f)
	names := make([]string, 0, len(propertySchemas))
	for name := range propertySchemas {
		names = append(names, name)
	}
	slices.Sort(names)
	grammars := make([]*Grammar, len(names))
	for i, name := range names {
		g, err := Compile([]byte(propertySchemas[name]), v)
		if err != nil {
			f.Fatal(err)
		}
		grammars[i] = g
	}
	f.Add(uint8(0), []byte(`{"emotion":"wary","action":{"name":"idle"},"say":"hi"}`))
	f.Add(uint8(1), []byte("\x01\x02\x00\x7b\x01\x10"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		if len(data) > 4096 {
			data = data[:4096] // long inputs only slow the search down
		}
		i := int(which) % len(grammars)
		g := grammars[i]
		m := g.NewMatcher()
		if err := m.StreamField("say"); err != nil && names[i] == "npc" {
			t.Fatal(err)
		}
		var out []byte
		for j := 0; j+1 < len(data); j += 2 {
			id := int32(data[j])<<8 | int32(data[j+1])
			id %= int32(v.Size())
			if m.Accept(id) == nil {
				out = append(out, v.Token(id)...)
			}
		}
		out = append(out, m.Close()...)
		checkOutput(t, propertySchemas[names[i]], out)
	})
}
