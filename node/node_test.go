package node_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
)

// These tests hold with any model of the embedded one's shape, the barely
// trained placeholder included; a binary built without one skips them.

var shared struct {
	once sync.Once
	d    *node.Decoder
	err  error
}

func testDecoder(t *testing.T) *node.Decoder {
	t.Helper()
	shared.once.Do(func() { shared.d, shared.err = node.LoadDecoder("", 1) })
	if errors.Is(shared.err, assets.ErrNoModel) {
		t.Skip(shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.d
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.d != nil {
		shared.d.Close()
	}
	os.Exit(code)
}

// The embedded model loads as the native backend with its context, and its
// engine and vocabulary are there for other servers to share.
func TestLoadDecoderEmbedded(t *testing.T) {
	d := testDecoder(t)
	info := d.Info()
	if info.Name == "" || info.Backend != "native" || info.Arch == "" || info.ContextTokens <= 0 || info.ContextTokens != d.Context() {
		t.Errorf("Info() = %+v, Context() = %d; want a named native model with its context", info, d.Context())
	}
	if d.Engine() == nil || d.Vocab() == nil {
		t.Errorf("Engine() = %v, Vocab() = %v; want both", d.Engine(), d.Vocab())
	}
}

func TestLoadDecoderMissingFile(t *testing.T) {
	if _, err := node.LoadDecoder(filepath.Join(t.TempDir(), "none.gguf"), 1); err == nil {
		t.Error("LoadDecoder(a missing file) = nil error; want one")
	}
}

// discard is an Outbox for NPCs whose messages the test does not read.
type discard struct{}

func (discard) Send(string, string, protocol.Message) {}

// OpenMinds keeps memories in DIR/memory.db, and NPCHost registers the
// minds' counters and the trees' tick lag, which grows as the trees tick
// (no thinking needed: NoAmbient and nobody speaks).
func TestOpenMindsServesTheirMetrics(t *testing.T) {
	d := testDecoder(t)
	dir := filepath.Join(t.TempDir(), "state")
	m, err := node.OpenMinds(d, dir, mind.Config{NoAmbient: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.db")); err != nil {
		t.Errorf("memory store: %v", err)
	}
	reg := prometheus.NewRegistry()
	if _, err := m.NPCHost(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Spawn(mind.Ref{Session: "s", NPC: "smith"}, &protocol.Spawn{Persona: "brannoc"}, discard{}); err != nil {
		t.Fatal(err)
	}
	var lagCount uint64
	names := map[string]bool{}
	for deadline := time.Now().Add(5 * time.Second); lagCount == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			names[f.GetName()] = true
			if f.GetName() == "anima_behavior_tick_lag_seconds" {
				lagCount = f.GetMetric()[0].GetHistogram().GetSampleCount()
			}
		}
	}
	if lagCount == 0 {
		t.Error("anima_behavior_tick_lag_seconds saw no tick within 5 s of a spawn")
	}
	if !names["anima_npc_thinks_total"] {
		t.Errorf("metrics %v lack anima_npc_thinks_total", names)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}
