package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anima-rt/anima/loadtest"
)

// anima load runs against NPC minds on the embedded model by default: its
// report names them, counts decisions with the decoder's token figures
// (so tokens/s and cache reuse are measured, not n/a) and reads the trees'
// tick lag from the server's metrics; -html writes the charts.
func TestRunLoadAgainstMinds(t *testing.T) {
	testDecoder(t) // skips without an embedded model
	out := filepath.Join(t.TempDir(), "load.html")
	var stdout bytes.Buffer
	err := load(context.Background(), []string{"-conns", "2", "-npcs", "3", "-duration", "3s", "-ramp", "500ms",
		"-say-every", "100ms", "-q", "-html", out, "-json"}, &stdout)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, stdout.String())
	}
	var rep loadtest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(rep.Scenario.Target, "NPC minds on") || !strings.Contains(rep.Scenario.Model, "(native)") {
		t.Errorf("target %q, model %q; want NPC minds on the native model", rep.Scenario.Target, rep.Scenario.Model)
	}
	if rep.Tokens.WithStats == 0 || rep.Tokens.CacheReusePct == nil || rep.Rates.Tokens == nil {
		t.Errorf("tokens %+v, tokens/s %v; want decisions with the decoder's figures", rep.Tokens, rep.Rates.Tokens)
	}
	if rep.TickLag == nil || rep.TickLag.Count == 0 {
		t.Errorf("tick lag %+v; want the server's anima_behavior_tick_lag_seconds", rep.TickLag)
	}
	// The model's own first token comes before the player sees the say.
	if m, f := rep.Latency["model_ttft"], rep.Latency["first_say"]; m.Count == 0 || m.P50MS <= 0 || m.P50MS > f.MaxMS {
		t.Errorf("model_ttft %+v, first_say %+v; want the decisions' own time to first token, below the first say", m, f)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "NPC minds on") {
		t.Errorf("%s lacks the charts or the target", out)
	}
}

// -standin loads the server alone: the keyword stand-in answers, with no
// model and no behaviour trees.
func TestRunLoadStandIn(t *testing.T) {
	var stdout bytes.Buffer
	err := load(context.Background(), []string{"-standin", "-conns", "2", "-npcs", "3", "-duration", "2s", "-ramp", "500ms",
		"-say-every", "50ms", "-q", "-json"}, &stdout)
	if err != nil {
		t.Fatalf("load -standin: %v", err)
	}
	var rep loadtest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v", err)
	}
	if rep.Scenario.Target != "in-process server, stand-in NPC host" || rep.Counts["decisions"] == 0 {
		t.Errorf("target %q, %d decisions; want the stand-in answering", rep.Scenario.Target, rep.Counts["decisions"])
	}
}

func TestRunLoadRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "ws://192.0.2.1:7777/v1/ws", "-duration", "1s", "-ramp", "0s"},
		{"-standin", "-conns", "0"},
		{"-standin", "-duration", "1s", "-ramp", "2s"},
		{"extra"},
	} {
		if err := load(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("load(%q) = nil; want an error", args)
		}
	}
}
