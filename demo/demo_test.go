//go:build xvfb

package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/demo/village"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

// The game needs a display, even in tests, and ebiten opens it when its
// package initialises (and panics without one), so these tests are behind
// the xvfb build tag and run under Xvfb:
//
//	xvfb-run -a go test -tags xvfb ./demo/...
//
// ebiten must also run on the main goroutine, and only once per process, so
// TestMain plays the whole conversation before the tests run, and the tests
// check what it did. The NPCs think as the demo's do, NPC minds on the
// embedded model, but only when spoken to. What holds with any model of
// its shape is asserted (constrained decoding makes every decision valid,
// and the trees carry out whatever it decides); what the NPCs say is not,
// nor how fast they say it (logged: the machine is shared). The server is the
// test's own, on a loopback port, so its NPCs outlive the game (for the
// session's grace period) and the tests can ask the minds what they heard.

// conversation is the script TestMain plays: ask Pip, who stands beside
// the player in the square, to follow, through the talk box; then walk
// within earshot of Selka, the innkeeper (an NPC answering a player more
// than InterruptRadius away is cut short), and greet her; then type Pip a
// line in Korean. Moves are few: under Xvfb on a busy 2-core machine the
// game may draw only a few frames a second, and game time is frames.
const conversation = `
wait 100ms
type pip "Come with me, Pip."
key Enter
await reply pip 20s
await acted pip 20s
move 27 15
talk selka "Hello there!"
await reply selka 20s
await acted selka 20s
type pip "핍아, 우물이 어디야?"
key Enter
await reply pip 20s
await acted pip 20s
key Tab
screenshot %s
key Tab
quit
`

// lines are what the script says, by NPC: the last line first.
var lines = map[string][]string{"pip": {"핍아, 우물이 어디야?", "Come with me, Pip."}, "selka": {"Hello there!"}}

// played is what TestMain's run left for the tests.
var played struct {
	skip  error // no embedded model
	rep   *Report
	err   error
	minds *node.Minds
	shot  string
	wall  time.Duration // the game's run
}

func TestMain(m *testing.M) {
	os.Exit(playThenTest(m))
}

func playThenTest(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "demo-test")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	played.shot = filepath.Join(dir, "overlay.png")
	cmds, err := village.ParseScript(strings.NewReader(fmt.Sprintf(conversation, played.shot)))
	if err != nil {
		return fail(err)
	}
	d, err := node.LoadDecoder("", 0)
	if errors.Is(err, assets.ErrNoModel) {
		played.skip = err
		return m.Run()
	}
	if err != nil {
		return fail(err)
	}
	defer d.Close()
	log := slog.New(slog.DiscardHandler)
	// Only addressed speech makes them think: the conversation is what is
	// checked, and on a 2-core machine the villagers' idle chatter would
	// slow it for nothing (make demo has it).
	minds, err := node.OpenMinds(d, "", mind.Config{NoAmbient: true, Logger: log})
	if err != nil {
		return fail(err)
	}
	defer minds.Close()
	played.minds = minds
	reg := prometheus.NewRegistry()
	host, err := minds.NPCHost(reg)
	if err != nil {
		return fail(err)
	}
	srv, err := server.New(server.Options{Host: host, Registry: reg, Logger: log, Model: d.Info()})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	served := make(chan error, 1)
	// Serve returns when cancel is called after the tests.
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }() // before the minds close
	start := time.Now()
	played.rep, played.err = Run(ctx, Options{Addr: "ws://" + ln.Addr().String() + "/v1/ws", Script: cmds, Stats: true})
	played.wall = time.Since(start)
	return m.Run()
}

func checkPlayed(t *testing.T) {
	t.Helper()
	if played.skip != nil {
		t.Skip(played.skip)
	}
	if played.err != nil {
		t.Fatalf("Run = %v", played.err)
	}
}

// Each NPC spoken to answers (the script awaited it) with a decision the
// game shows, its words in the bubble when it chose any; its mind heard the
// lines, the one typed in Korean too; and it then acted on its decision:
// its tree ran the decided action (its tree_path showed Action_<action>),
// and the game carried out and reported acts without an error from the
// server.
func TestConversationRepliesAndActs(t *testing.T) {
	checkPlayed(t)
	for npc, said := range lines {
		tc := struct{ npc, line string }{npc, said[0]}
		n := played.rep.NPCs[tc.npc]
		var dec protocol.Decision
		if err := json.Unmarshal([]byte(n.Decision), &dec); err != nil || n.Answers < 1 || dec.Action == "" {
			t.Errorf("%s: %d answers, decision %q (%v); want an answer and its decision", tc.npc, n.Answers, n.Decision, err)
		}
		if dec.Say != "" && (n.Says < 1 || n.LastSaid == "") {
			t.Errorf("%s: decided to say %q, but %d replies were shown (last %q)", tc.npc, dec.Say, n.Says, n.LastSaid)
		}
		if n.Acts < 1 || n.LastAct == "" {
			t.Errorf("%s: %d acts; want it to act", tc.npc, n.Acts)
		}
		if n.Errors != 0 {
			t.Errorf("%s: %d error messages from the server (last: %s); want none", tc.npc, n.Errors, n.LastError)
		}
		// The answer's action, not the last decision's: an ambient
		// thought after the script's last await may have decided again.
		if !n.Decided {
			t.Errorf("%s: no decision answered the last line", tc.npc)
		} else if n.Answered != "" && !slices.Contains(n.Pursued, n.Answered) {
			t.Errorf("%s answered with %s, but its tree ran %q since the line; want it to act on its decision", tc.npc, n.Answered, n.Pursued)
		}
		if n.Statuses[protocol.StatusRunning] < 1 {
			t.Errorf("%s: statuses sent %v; want its acts carried out", tc.npc, n.Statuses)
		}
		t.Logf("%s decided %s", tc.npc, n.Decision)
		insp, err := played.minds.Inspect(mind.Ref{Session: played.rep.SessionID, NPC: tc.npc})
		if err != nil {
			t.Errorf("%s: Inspect: %v", tc.npc, err)
			continue
		}
		for _, l := range said {
			if !strings.Contains(strings.Join(insp.Memories, "\n"), l) {
				t.Errorf("%s remembers %q; want the player's line %q among it", tc.npc, insp.Memories, l)
			}
		}
	}
	if played.rep.Statuses < 2 {
		t.Errorf("%d action statuses sent; want at least 2 (a running status for each NPC's act)", played.rep.Statuses)
	}
	t.Logf("%d frames (%.1f game seconds) in %v", played.rep.Frames, float64(played.rep.Frames)/60, played.wall.Round(time.Millisecond))
	if c := played.minds.Counters(); c.Decisions < 3 || c.Errors != 0 {
		t.Errorf("minds counters %+v; want at least the three answers decided, and no failed thinks", c)
	}
}

// Every NPC's tree path reaches the designer view, and those spoken to
// change it: a decision pre-empts the routine. (The others' routines may
// still be on their first leaf: under Xvfb the game may play only a few
// game seconds, and the game ends the routine's acts.)
func TestTreePathsReachTheOverlay(t *testing.T) {
	checkPlayed(t)
	for id, n := range played.rep.NPCs {
		changes := 1
		if lines[id] != nil {
			changes = 2
		}
		if n.TreePath == "" || n.PathChanges < changes {
			t.Errorf("%s: path %q after %d tree_path messages; want at least %d", id, n.TreePath, n.PathChanges, changes)
		}
	}
	t.Logf("pip's path at the end: %s", played.rep.NPCs["pip"].TreePath)
}

// The game loop never waits on the model or the network: while the NPCs
// think, Update stays far under a 60 Hz frame. (Draw's and the frame
// rate's figures are logged, not checked: under Xvfb they measure the
// software renderer on a shared machine.)
func TestUpdateNeverWaits(t *testing.T) {
	checkPlayed(t)
	s := played.rep.Stats
	if s == nil {
		t.Fatal("no stats")
	}
	if s.UpdateThinkingMS.N == 0 {
		t.Fatal("no Update while an NPC thought")
	}
	if s.UpdateMS.P99 > 16.7 || s.UpdateThinkingMS.P99 > 16.7 {
		t.Errorf("Update p99 %.2f ms (%.2f ms while NPCs think); want far under a 16.7 ms frame", s.UpdateMS.P99, s.UpdateThinkingMS.P99)
	}
	t.Logf("update ms %+v; while NPCs think %+v; first %.1f ms", s.UpdateMS, s.UpdateThinkingMS, s.FirstUpdateMS)
	t.Logf("draw ms %+v; frame ms %+v; tps %+v; fps %+v", s.DrawMS, s.FrameMS, s.TPS, s.FPS)
	for _, r := range s.Replies {
		t.Logf("%s %q: first word arrived %.0f ms, in the world %.0f ms, shown %.0f ms; model ttft %.0f ms, %d/%d prompt tokens reused",
			r.NPC, r.Line, r.ArrivedMS, r.FirstWordMS, r.ShownMS, r.ModelTTFTMS, r.ReusedTokens, r.PromptTokens)
	}
}

func TestConversationScreenshot(t *testing.T) {
	checkPlayed(t)
	f, err := os.Open(played.shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != ScreenW || b.Dy() != ScreenH {
		t.Errorf("screenshot is %dx%d; want %dx%d", b.Dx(), b.Dy(), ScreenW, ScreenH)
	}
}
