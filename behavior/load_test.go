package behavior

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadErrorsHaveLines(t *testing.T) {
	for _, tt := range []struct {
		name, xml, want string
	}{
		{"empty", "", "f.xml: no XML element"},
		{"not xml", "hello", "f.xml: no XML element"},
		{"unclosed", "<root BTCPP_format=\"4\">\n<BehaviorTree ID=\"A\">\n<Wander/>\n</root>", "f.xml:4: malformed XML"},
		{"bad attr", "<root BTCPP_format=\"4\">\n\n<BehaviorTree ID=\"A\"><Wander radius=\"far\"/></BehaviorTree></root>", `f.xml:3: port "radius" of Wander: "far" is not a number`},
		{"two roots", "<root BTCPP_format=\"4\"/>\n<root/>", "f.xml:2: more than one root element"},
		{"deep", strings.Repeat("<a>", maxDepth+1), "elements nested deeper than 256"},
	} {
		_, err := Load("f.xml", []byte(tt.xml), Options{})
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Errorf("Load(%s) = %v; want an ErrorList", tt.name, err)
			continue
		}
		if !strings.Contains(list[0].Error(), tt.want) {
			t.Errorf("Load(%s) = %v; want it to say %q", tt.name, list[0], tt.want)
		}
	}
}

func TestLoadReaderLimitsSize(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxFileSize+10)
	_, err := LoadReader("big.xml", bytes.NewReader(big), Options{})
	if err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Errorf("LoadReader(%d bytes) = %v; want a size error", len(big), err)
	}
}

// TestSubtreeExpansionIsBounded: subtrees used many times at many levels
// expand exponentially; compiling stops at maxNodes with an error instead
// of exhausting memory.
func TestSubtreeExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<root BTCPP_format="4" main_tree_to_execute="T0">`)
	for i := 0; i < 20; i++ {
		b.WriteString(`<BehaviorTree ID="T` + itoa(i) + `"><Sequence>`)
		for j := 0; j < 4; j++ {
			b.WriteString(`<SubTree ID="T` + itoa(i+1) + `"/>`)
		}
		b.WriteString(`</Sequence></BehaviorTree>`)
	}
	b.WriteString(`<BehaviorTree ID="T20"><Wander/></BehaviorTree></root>`)
	_, err := Load("bomb.xml", []byte(b.String()), Options{})
	if err == nil || !strings.Contains(err.Error(), "tree too large") {
		t.Errorf("Load(4^20 nodes) = %v; want tree too large", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}

// fuzzSeeds returns tree files to start fuzzing from: the assets and every
// tree in the script tests.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob("../assets/trees/*.xml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, b)
		}
	}
	scripts, _ := filepath.Glob("testdata/scripts/*.txt")
	for _, p := range scripts {
		_, cases := readScript(f, p)
		for _, c := range cases {
			if c.cmd == "load" && c.input != "" {
				seeds = append(seeds, []byte(c.input))
			}
		}
	}
	return seeds
}

// FuzzLoad: any file either loads or gives errors with lines inside it, and
// a tree that loads ticks, resolves and halts without panicking.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	actions, _ := os.ReadFile("../assets/trees/actions.xml")
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{Include: func(from, path string) (string, []byte, error) {
			if path == "actions.xml" {
				return path, actions, nil
			}
			return path, data, nil // including itself again is skipped
		}}
		tree, err := Load("fuzz.xml", data, opts)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Load error %T %v; want an ErrorList", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, e := range list {
				if e.File == "fuzz.xml" && (e.Line < 0 || e.Line > lines) {
					t.Fatalf("error at line %d of a %d-line file: %v", e.Line, lines, e)
				}
			}
			return
		}
		g := &countingGame{lastID: map[string]uint64{}}
		in := NewInstance(tree, "npc", g, g)
		now := time.Unix(0, 0)
		goals := []string{"follow", "", "flee", "idle"}
		for i := 0; i < 12; i++ {
			in.Tick(now)
			now = now.Add(300 * time.Millisecond)
			in.Resolve(g.lastID["npc"], i%3 != 0)
			in.Set("goal", String(goals[i%len(goals)]))
			in.Set("target", String("p1"))
		}
		in.LastFailure()
		in.Halt("despawn")
	})
}
