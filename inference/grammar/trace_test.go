package grammar

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestDecisionTraceGolden pins, step by step, what the matcher forces and
// how many tokens it allows while a typical decision is written on the
// small vocabulary, with the streamed say deltas: a change in forcing,
// masks or streaming shows up as a diff of testdata/decision_trace.golden.
func TestDecisionTraceGolden(t *testing.T) {
	v := smallVocab(t)
	g, err := Compile([]byte(npcSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	if err := m.StreamField("say"); err != nil {
		t.Fatal(err)
	}
	text := `{"emotion":"wary","action":{"name":"give","target":"player_1","item":"coin_5"},"say":"안녕! \"Stay\" \ud83d\ude00"}`
	var b strings.Builder
	pos := 0
	for !m.Done() {
		if f := m.Forced(); len(f) > 0 {
			var parts []string
			for _, id := range f {
				if err := m.Accept(id); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, fmt.Sprintf("%q", v.Token(id)))
				pos += len(v.Token(id))
			}
			fmt.Fprintf(&b, "forced %s\n", strings.Join(parts, " "))
			continue
		}
		mask, sparse := m.Allowed()
		best, bestLen := int32(-1), 0
		for _, id := range mask.AppendIDs(nil) {
			if tok := v.Token(id); len(tok) > bestLen && strings.HasPrefix(text[pos:], string(tok)) {
				best, bestLen = id, len(tok)
			}
		}
		if best < 0 {
			t.Fatalf("no allowed token spells %q", text[pos:])
		}
		if err := m.Accept(best); err != nil {
			t.Fatal(err)
		}
		pos += bestLen
		fmt.Fprintf(&b, "sample %q of %d allowed (listed %v)", v.Token(best), mask.Count(), sparse != nil)
		if d := m.AppendDelta(nil); len(d) > 0 {
			fmt.Fprintf(&b, " say+=%q", d)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "done field=%v\n", m.FieldDone())
	path := filepath.Join("testdata", "decision_trace.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run DecisionTrace -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("trace differs from %s (rerun with -update if intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
