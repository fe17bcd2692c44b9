package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
)

// TestTwoNodesOneServingTheOther is issue 10's two-process test: two
// `anima serve` processes on loopback, node A on the embedded model with
// its engine also served as the OpenAI-compatible API (-openai), node B's
// NPC minds thinking on A through the remote engine (-remote). A game
// client talks to B and gets decisions decoded on A. Killing A makes B's
// answers fail fast with an error naming the request, nothing hanging;
// when A is restarted on the same address, B's circuit closes again and
// its NPCs answer.
func TestTwoNodesOneServingTheOther(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two anima processes")
	}
	if _, err := assets.Model(); errors.Is(err, assets.ErrNoModel) {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "anima")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	openaiAddr, aAddr, bAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	startA := func() *proc {
		a := startNode(t, bin, "A", "-addr", aAddr, "-openai", openaiAddr, "-data", "", "-threads", "1")
		waitHTTP(t, a, "http://"+openaiAddr+"/v1/models")
		return a
	}
	a := startA()
	b := startNode(t, bin, "B", "-addr", bAddr, "-data", "", "-remote", "http://"+openaiAddr+"/v1",
		"-remote-model", "anima-npc", "-remote-mode", "completion")

	c := dialNode(t, b, "ws://"+bAddr+"/v1/ws")
	if got := c.Welcome().Model.Backend; got != "remote" {
		t.Errorf("node B's welcome names backend %q; want remote", got)
	}
	spawnSmith(t, c, "smith")

	ask := func(id, line string, within time.Duration) protocol.Envelope {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		if err := c.Send(ctx, protocol.NewEnvelope(id, "smith", &protocol.PlayerSay{Speaker: "p1", Text: line})); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case e := <-c.Events():
				if e.ID == id && (e.Type == "decision" || e.Type == "error") {
					return e
				}
			case <-ctx.Done():
				t.Fatalf("no decision or error for %s within %v\nA: %s\nB: %s", id, within, a.log(), b.log())
			}
		}
	}

	if e := ask("r1", "Good morning, Brannoc!", 60*time.Second); e.Type != "decision" {
		t.Fatalf("with A up: %s %+v; want a decision\nA: %s\nB: %s", e.Type, e.Body, a.log(), b.log())
	}

	a.kill()
	start := time.Now()
	e := ask("r2", "Are you there?", 20*time.Second)
	if e.Type != "error" {
		t.Fatalf("with A down: %s %+v; want an error", e.Type, e.Body)
	}
	t.Logf("with A down: %s after %v", e.Body.(*protocol.Error).Message, time.Since(start).Round(time.Millisecond))

	a = startA()
	// The circuit half-opens after its cool-down (5 s by default); until
	// then B answers overloaded at once. Ask until a decision comes back.
	deadline := time.Now().Add(60 * time.Second)
	for i := 3; ; i++ {
		e := ask(fmt.Sprintf("r%d", i), "Hello again?", 60*time.Second)
		if e.Type == "decision" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A restarted, but B still answers %+v\nA: %s\nB: %s", e.Body, a.log(), b.log())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// proc is an anima process started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (n *proc) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.Write(p)
}

func (n *proc) log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

func (n *proc) kill() {
	n.cmd.Process.Kill()
	<-n.done
}

func startNode(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	n := &proc{name: name, done: make(chan struct{})}
	n.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	n.cmd.Stdout, n.cmd.Stderr = n, n
	n.cmd.Env = append(os.Environ(), "ANIMA_API_KEYS=")
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Exits when the process does.
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			n.kill()
		}
	})
	return n
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHTTP waits up to 60 s for url to answer 200.
func waitHTTP(t *testing.T, n *proc, url string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r, err := http.Get(url); err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-n.done:
			t.Fatalf("node %s exited: %s", n.name, n.log())
		default:
		}
	}
	t.Fatalf("node %s: %s did not answer within 60 s: %s", n.name, url, n.log())
}

// dialNode connects a game client to n, retrying while it starts.
func dialNode(t *testing.T, n *proc, url string) *client.Client {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := client.Dial(ctx, url, client.Options{NoReconnect: true, EventBuffer: 4096,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		cancel()
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: dial %s: %v\n%s", n.name, url, err, n.log())
		}
	}
}
