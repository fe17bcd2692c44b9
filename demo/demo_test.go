//go:build xvfb

package demo

import (
	"context"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/demo/village"
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
// check what it did. The server is the test's own, on a loopback port, so
// its NPCs outlive the game (for the session's grace period) and the tests
// can ask the NPC host what the game reported.

// conversation is the script TestMain plays: step up to Pip in the square
// and ask him to follow through the talk box, then greet Selka, the
// innkeeper.
const conversation = `
move 23 17
type pip "Come with me, Pip."
key Enter
await reply pip 20s
await act pip 20s
talk selka "Hello there!"
await reply selka 20s
await act selka 20s
key Tab
screenshot %s
key Tab
quit
`

// played is what TestMain's run left for the tests.
var played *struct {
	rep  *Report
	err  error
	host *server.StandIn
	shot string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demo-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shot := filepath.Join(dir, "overlay.png")
	cmds, err := village.ParseScript(strings.NewReader(fmt.Sprintf(conversation, shot)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	host := server.NewStandIn(server.StandInOptions{DeltaDelay: 10 * time.Millisecond})
	srv, err := server.New(server.Options{Host: host, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Model: protocol.Model{Name: "stand-in", Backend: "standin"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	served := make(chan error, 1)
	// Serve returns when cancel is called after the tests.
	go func() { served <- srv.Serve(ctx, ln) }()
	rep, err := Run(ctx, Options{Addr: "ws://" + ln.Addr().String() + "/v1/ws", Script: cmds})
	played = &struct {
		rep  *Report
		err  error
		host *server.StandIn
		shot string
	}{rep, err, host, shot}
	code := m.Run()
	cancel()
	<-served
	host.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestConversationRepliesAndActs(t *testing.T) {
	if played.err != nil {
		t.Fatalf("Run = %v", played.err)
	}
	for _, tc := range []struct {
		npc, status string // the act's status as the server recorded it
	}{
		{"pip", protocol.StatusRunning},   // "come" → follow, still following
		{"selka", protocol.StatusSuccess}, // "hello" → idle, done at once
	} {
		n := played.rep.NPCs[tc.npc]
		if n.Says < 1 || n.LastSaid == "" {
			t.Errorf("%s: %d replies shown, last %q; want a reply", tc.npc, n.Says, n.LastSaid)
		}
		if n.Acts < 1 || n.LastAct == "" {
			t.Errorf("%s: %d acts; want one", tc.npc, n.Acts)
			continue
		}
		ref := server.NPCRef{Session: played.rep.SessionID, NPC: tc.npc}
		got, ok := played.host.ActionStatusOf(ref, n.LastAct)
		if !ok || got != tc.status {
			t.Errorf("server's status of %s's act %s = %q, %v; want %q", tc.npc, n.LastAct, got, ok, tc.status)
		}
	}
	if played.rep.Statuses < 3 {
		t.Errorf("%d action statuses sent; want at least 3 (running and success, running)", played.rep.Statuses)
	}
}

func TestConversationScreenshot(t *testing.T) {
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
