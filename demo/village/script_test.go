package village

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

func TestParseScript(t *testing.T) {
	src := `# a conversation
move 35 18
wait 500ms
talk selka "Hello, 안녕하세요!"
await reply selka
await act selka 3s
key tab
type pip "hi"
key enter
screenshot out.png
quit
`
	cmds, err := ParseScript(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Command{
		{Line: 2, Op: "move", X: 35, Y: 18},
		{Line: 3, Op: "wait", Dur: 500 * time.Millisecond},
		{Line: 4, Op: "talk", NPC: "selka", Text: "Hello, 안녕하세요!"},
		{Line: 5, Op: "await", Text: "reply", NPC: "selka", Dur: defaultAwait},
		{Line: 6, Op: "await", Text: "act", NPC: "selka", Dur: 3 * time.Second},
		{Line: 7, Op: "key", Key: "Tab"},
		{Line: 8, Op: "type", NPC: "pip", Text: "hi"},
		{Line: 9, Op: "key", Key: "Enter"},
		{Line: 10, Op: "screenshot", File: "out.png"},
		{Line: 11, Op: "quit"},
	}
	if len(cmds) != len(want) {
		t.Fatalf("ParseScript gave %d commands; want %d", len(cmds), len(want))
	}
	for i, c := range cmds {
		c.Source = ""
		if c != want[i] {
			t.Errorf("command %d = %+v; want %+v", i, c, want[i])
		}
	}
}

func TestParseScriptErrors(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{"fly 1 2", `line 1: unknown command "fly"`},
		{"move 1", "move wants 2 arguments, got 1"},
		{"approach", "approach wants 1 to 2 arguments, got 0"},
		{"move 99 1", `x "99" is not a column`},
		{"move 1 -1", `y "-1" is not a row`},
		{"wait soon", `bad duration "soon"`},
		{"wait 11m", "outside 0..10m0s"},
		{"\n\ntalk pip hello", "line 3: talk: the line hello is not a Go quoted string"},
		{`talk pip ""`, "talk: empty line"},
		{"talk", "talk wants an NPC id"},
		{"key Q", `key "Q": want F, G, R, Tab, Enter or Esc`},
		{"type pip", "type wants an NPC id"},
		{"await nap pip", `await "nap": want reply, act or acted`},
		{"await reply", "await wants 2 to 3 arguments, got 1"},
		{"quit now", "quit wants 0 arguments, got 1"},
		{"screenshot", "screenshot wants 1 arguments, got 0"},
		{"wait " + strings.Repeat("9", MaxScriptLineSize), "token too long"},
	} {
		_, err := ParseScript(strings.NewReader(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseScript(%.40q) = %v; want an error containing %q", tc.src, err, tc.want)
		}
	}
}

func FuzzParseScript(f *testing.F) {
	f.Add("move 1 2\nwait 1s\ntalk pip \"hi\"\nawait reply pip 2s\nkey F\nscreenshot a.png\nquit\n")
	f.Add("talk pip \"\\u00e9\"\n# c\n\n")
	f.Fuzz(func(t *testing.T, src string) {
		cmds, err := ParseScript(strings.NewReader(src))
		if err != nil {
			return
		}
		for _, c := range cmds {
			if c.Op == "move" && (c.X < 0 || c.X >= Width || c.Y < 0 || c.Y >= Height) {
				t.Fatalf("accepted move outside the map: %+v", c)
			}
			if c.Dur < 0 || c.Dur > MaxWait {
				t.Fatalf("accepted duration %v", c.Dur)
			}
		}
	})
}

// TestRunnerPlaysAConversation drives the runner against a world whose
// server side is played by handing it the messages a server would send.
func TestRunnerPlaysAConversation(t *testing.T) {
	w := newTestWorld(t)
	cmds, err := ParseScript(strings.NewReader(`move 35 18
talk selka "hello"
await reply selka 5s
await act selka 5s
key F
wait 1s
screenshot x.png
quit
`))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(cmds)
	var got []string
	replied := false
	for tick := 0; tick < 60*60 && !r.Done(); tick++ {
		in, err := r.Tick(w)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range in {
			got = append(got, i.Kind+":"+i.Text)
			switch i.Kind {
			case "walk":
				w.WalkPlayerTo(i.To)
			case "talk":
				if err := w.Talk(i.NPC, i.Text); err != nil {
					t.Fatal(err)
				}
			}
		}
		if w.Entity("selka").WaitingFirst && !replied && tick%30 == 29 {
			replied = true
			w.Handle(protocol.Envelope{Type: "say", NPC: "selka", Body: &protocol.Say{UtteranceID: "u1", Final: true, Text: "Hi."}})
			act(w, "selka", "a1", "greet", protocol.Args{"target": PlayerID})
		}
		w.Step(time.Second / 60)
	}
	want := []string{"walk:", "talk:hello", "deed:attack", "screenshot:", "quit:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("intents %q; want %q", got, want)
	}
	if (w.Player.Pos.Tile() != Point{35, 18}) {
		t.Errorf("player at %v; want (35,18)", w.Player.Pos.Tile())
	}
}

// approach walks the player up to an NPC even while the NPC walks away.
func TestRunnerApproachesAWalkingNPC(t *testing.T) {
	w := newTestWorld(t)
	cmds, err := ParseScript(strings.NewReader("approach aldric 20s\nquit\n"))
	if err != nil {
		t.Fatal(err)
	}
	aldric := w.Entity("aldric")
	act(w, "aldric", "a1", "go_to", protocol.Args{"target": "well"})
	r := NewRunner(cmds)
	for tick := 0; tick < 60*25 && !r.Done(); tick++ {
		in, err := r.Tick(w)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range in {
			switch i.Kind {
			case "walk":
				w.WalkPlayerTo(i.To)
			case "move":
				w.MovePlayer(i.DX, i.DY, time.Second/60)
			}
		}
		w.Step(time.Second / 60)
	}
	if !r.Done() {
		t.Fatal("approach aldric did not finish within 25 s")
	}
	if d := w.Player.Pos.Dist(aldric.Pos); d > TalkRadius {
		t.Errorf("player %.1f tiles from aldric after approach; want within %v", d, TalkRadius)
	}
}

func TestRunnerAwaitTimesOut(t *testing.T) {
	w := newTestWorld(t)
	cmds, _ := ParseScript(strings.NewReader("talk pip \"hi\"\nawait reply pip 1s\n"))
	r := NewRunner(cmds)
	for tick := 0; tick < 120; tick++ {
		if _, err := r.Tick(w); err != nil {
			if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "no reply from pip within 1s") {
				t.Errorf("error %q; want line 2's timeout", err)
			}
			return
		}
		w.Step(time.Second / 60)
	}
	t.Error("await reply without a reply did not time out within 2s")
}

// TestShippedScriptsParse keeps the scripts the docs use valid.
func TestShippedScriptsParse(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.script")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in ../testdata (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseScript(strings.NewReader(string(data))); err != nil {
			t.Errorf("ParseScript(%s) = %v", f, err)
		}
	}
}
