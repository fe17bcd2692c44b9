package grammar

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestScript runs testdata/script.txt on the small vocabulary: blocks of
// one command, "----", and the expected output, separated by blank lines
// (Pebble's datadriven format; lines starting with # are comments).
// Commands:
//
//	schema JSON        compile (one line) and start a matcher
//	stream PATH        stream that field's text
//	write "TEXT"       accept TEXT as greedy tokens (a Go-quoted string);
//	                   prints the streamed delta, or the error
//	forced             the forced run, not taken
//	take               accept the forced run
//	allowed            how many tokens are allowed, and up to 16 of them
//	close              Close: the completion, and the streamed delta
//	state              Complete and Done
func TestScript(t *testing.T) {
	path := "testdata/script.txt"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := smallVocab(t)
	var (
		m    *Matcher
		out  strings.Builder
		fail bool
	)
	quote := func(ids []int32) string {
		var parts []string
		for _, id := range ids {
			if v.isEOG(id) {
				parts = append(parts, "<stop>")
			} else {
				parts = append(parts, strconv.Quote(string(v.Token(id))))
			}
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, " ")
	}
	for _, block := range strings.Split(strings.TrimSpace(string(data)), "\n\n") {
		cmd, want, _ := strings.Cut(block, "\n----\n")
		lines := strings.Split(strings.TrimSpace(cmd), "\n")
		for len(lines) > 1 && strings.HasPrefix(lines[0], "#") {
			out.WriteString(lines[0] + "\n")
			lines = lines[1:]
		}
		cmd = lines[0]
		verb, arg, _ := strings.Cut(cmd, " ")
		var got string
		switch verb {
		case "schema":
			g, err := Compile([]byte(arg), v)
			if err != nil {
				got = "error: " + err.Error()
				m = nil
				break
			}
			m = g.NewMatcher()
			got = fmt.Sprintf("ok: %d nodes", g.Nodes())
		case "stream":
			got = "ok"
			if err := m.StreamField(arg); err != nil {
				got = "error: " + err.Error()
			}
		case "write":
			text, err := strconv.Unquote(arg)
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			got = "ok"
			for _, id := range v.tokenize([]byte(text)) {
				if err := m.Accept(id); err != nil {
					got = "error: " + err.Error()
					break
				}
			}
			if d := m.AppendDelta(nil); len(d) > 0 {
				got += fmt.Sprintf(" say+=%q", d)
			}
		case "forced":
			got = quote(m.Forced())
		case "take":
			f := m.Forced()
			for _, id := range f {
				if err := m.Accept(id); err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
			}
			got = quote(f)
			if d := m.AppendDelta(nil); len(d) > 0 {
				got += fmt.Sprintf(" say+=%q", d)
			}
		case "allowed":
			mask := m.Mask()
			ids := mask.AppendIDs(nil)
			got = fmt.Sprintf("%d:", len(ids))
			if len(ids) <= 16 {
				got += " " + quote(ids)
			}
		case "close":
			got = fmt.Sprintf("%q", m.Close())
			if d := m.AppendDelta(nil); len(d) > 0 {
				got += fmt.Sprintf(" say+=%q", d)
			}
		case "state":
			got = fmt.Sprintf("complete=%v done=%v", m.Complete(), m.Done())
		default:
			t.Fatalf("unknown command %q", cmd)
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n\n", cmd, got)
		if strings.TrimSpace(want) != got && !*update {
			t.Errorf("%s\ngot:  %s\nwant: %s", cmd, got, strings.TrimSpace(want))
			fail = true
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimSpace(out.String())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if fail {
		t.Log("rerun with -update to accept the new output")
	}
}
