package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

// startStandIn runs a real server with the stand-in host on a loopback port
// until the test ends.
func startStandIn(t *testing.T) *Local {
	t.Helper()
	host := server.NewStandIn(server.StandInOptions{DeltaDelay: 5 * time.Millisecond})
	t.Cleanup(host.Close)
	cfg := server.DefaultConfig()
	cfg.RatePerSecond, cfg.RateBurst = 10000, 20000
	l, err := StartLocal(server.Options{Config: cfg, Host: host, Model: protocol.Model{Name: "stand-in", Backend: "standin"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// shortRun is a few seconds of a handful of connections: enough for every
// kind of message to flow, light enough for a shared machine.
func shortRun(t *testing.T) (*Report, *Local) {
	t.Helper()
	l := startStandIn(t)
	cfg := Config{
		URL: l.URL, Target: "test", Conns: 3, NPCs: 4,
		Duration: 3500 * time.Millisecond, Ramp: 500 * time.Millisecond,
		SayEvery: 25 * time.Millisecond, PerceiveEvery: 100 * time.Millisecond, EventEvery: 300 * time.Millisecond,
		Seed: 7, Drain: 2 * time.Second,
		ServerMetrics: l.Gather, Resources: SelfResources, ResourcesFrom: "test process",
	}
	var progress, atEnd int
	cfg.Progress = func(Sample, float64) { progress++ }
	// AtEnd runs once, while every connection is still open.
	cfg.AtEnd = func() error {
		atEnd++
		if n := l.Server.SessionCount(); n != cfg.Conns {
			t.Errorf("at the end %d sessions were open; want all %d", n, cfg.Conns)
		}
		return nil
	}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if progress < 2 {
		t.Errorf("Progress called %d times in a 3.5 s run; want once a second", progress)
	}
	if atEnd != 1 {
		t.Errorf("AtEnd called %d times; want once", atEnd)
	}
	return r, l
}

// TestRunAgainstStandIn runs one short scenario against a real server and
// checks the report, its JSON and its HTML.
func TestRunAgainstStandIn(t *testing.T) {
	r, l := shortRun(t)
	t.Run("measures", func(t *testing.T) { checkMeasures(t, r, l) })
	t.Run("json", func(t *testing.T) { checkJSON(t, r) })
	t.Run("html", func(t *testing.T) { checkHTML(t, r) })
}

func checkMeasures(t *testing.T, r *Report, l *Local) {
	if len(r.Errors) != 0 {
		t.Errorf("Errors = %v; want none", r.Errors)
	}
	for _, name := range []string{"first_say", "decision", "final_say", "act", "spawn"} {
		if r.Latency[name].Count == 0 {
			t.Errorf("Latency[%q].Count = 0; want samples", name)
		}
	}
	if got := r.Latency["spawn"].Count; got != 12 {
		t.Errorf("spawn count = %d; want 12 (3 conns × 4 NPCs)", got)
	}
	// The stand-in answers every line with a decision and an act at once,
	// so in the steady phase the counts match the lines sent, give or take
	// the lines in flight at the phase's edges.
	lines := r.Counts["lines_sent"]
	if lines < 40 {
		t.Fatalf("lines_sent = %d; want about 120 (a line every 25 ms for 3 s)", lines)
	}
	for _, k := range []string{"decisions", "acts", "replies"} {
		if n := r.Counts[k]; n+5 < lines || n > lines+5 {
			t.Errorf("counts[%q] = %d; want about lines_sent %d", k, n, lines)
		}
	}
	if r.Counts["statuses_sent"] == 0 || r.Counts["perceive_events"] == 0 {
		t.Errorf("counts = %v; want statuses and perceive events", r.Counts)
	}
	// Acts of 0.5–2 s finished within the run, and the server acked them.
	if r.Latency["act_rtt"].Count == 0 {
		t.Errorf("act_rtt count = 0; want acked action statuses")
	}
	if r.Rates.Tokens != nil || r.Tokens.CacheReusePct != nil || r.Tokens.Fallback == 0 {
		t.Errorf("tokens = %+v, rate %v; the stand-in's fallback decisions carry no token counts", r.Tokens, r.Rates.Tokens)
	}
	if r.TickLag != nil {
		t.Errorf("TickLag = %+v; the stand-in exports none", r.TickLag)
	}
	if r.Resources.RSSPeakBytes == 0 || r.Resources.GoroutinesPeak == 0 || r.Resources.CPUCores <= 0 {
		t.Errorf("Resources = %+v; want RSS and goroutines", r.Resources)
	}
	if r.Scenario.Model != "stand-in (standin)" {
		t.Errorf("Scenario.Model = %q; want the welcome's model", r.Scenario.Model)
	}

	// The server saw what the simulation says it sent.
	fams, err := l.Gather(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	in := counterDelta(nil, fams, "anima_messages_in_total", "type")
	for _, typ := range []string{"perceive", "player_say", "action_status", "spawn", "world", "ping"} {
		if in[typ] == 0 {
			t.Errorf("server messages_in_total{type=%q} = 0; want some", typ)
		}
	}
	if got, want := in["player_say"], r.Counts["lines_sent_total"]; got != want {
		t.Errorf("server got %d player_say; the simulation sent %d", got, want)
	}
}

func checkJSON(t *testing.T, r *Report) {
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("WriteJSON wrote invalid JSON: %v", err)
	}
	lat, ok := doc["latency_ms"].(map[string]any)
	if !ok {
		t.Fatalf("latency_ms = %T; want an object", doc["latency_ms"])
	}
	for _, name := range latencyNames {
		l, ok := lat[name].(map[string]any)
		if !ok {
			t.Errorf("latency_ms.%s missing", name)
			continue
		}
		for _, f := range []string{"count", "p50_ms", "p95_ms", "p99_ms", "max_ms"} {
			if _, ok := l[f].(float64); !ok {
				t.Errorf("latency_ms.%s.%s = %v; want a number", name, f, l[f])
			}
		}
	}
	for _, k := range []string{"errors", "drops", "counts", "rates", "tokens", "resources", "scenario"} {
		if _, ok := doc[k].(map[string]any); !ok {
			t.Errorf("%s = %T; want an object", k, doc[k])
		}
	}
	if v, ok := doc["tick_lag_ms"]; !ok || v != nil {
		t.Errorf("tick_lag_ms = %v; want null (n/a)", v)
	}
	rates := doc["rates"].(map[string]any)
	if _, ok := rates["decisions_per_s"].(float64); !ok {
		t.Errorf("rates.decisions_per_s = %v; want a number", rates["decisions_per_s"])
	}
	if s, ok := doc["series"].([]any); !ok || len(s) < 2 {
		t.Errorf("series = %v; want one sample a second", doc["series"])
	}
}

func checkHTML(t *testing.T, r *Report) {
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// Well-formed: a strict XML parse of the whole page.
	d := xml.NewDecoder(strings.NewReader(page))
	svgs, polylines := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("HTML is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "svg":
				svgs++
			case "polyline":
				polylines++
			case "script", "link", "img", "iframe":
				t.Errorf("page has a <%s>; want a self-contained page", se.Name.Local)
			}
		}
	}
	if svgs < 8 || polylines < 6 {
		t.Errorf("page has %d charts with %d lines; want at least 8 charts and 6 lines", svgs, polylines)
	}
	for _, want := range []string{"Player line → first say delta", "Throughput", "Prompt cache reuse", "Memory", "Goroutines", "first say p99"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "src=") || strings.Contains(page, "href=") {
		t.Errorf("page refers to outside resources")
	}
}

func TestConfigRejects(t *testing.T) {
	ok := DefaultConfig()
	ok.URL = "ws://127.0.0.1:7777/v1/ws"
	tests := []struct {
		name string
		edit func(c *Config)
	}{
		{"remote address", func(c *Config) { c.URL = "ws://203.0.113.5:7777/v1/ws" }},
		{"http url", func(c *Config) { c.URL = "http://127.0.0.1:7777/" }},
		{"no conns", func(c *Config) { c.Conns = 0 }},
		{"no npcs", func(c *Config) { c.NPCs = 0 }},
		{"ramp as long as the run", func(c *Config) { c.Ramp = c.Duration }},
		{"unbounded run", func(c *Config) { c.Duration = 48 * time.Hour }},
		{"perceives too fast", func(c *Config) { c.PerceiveEvery = time.Millisecond }},
	}
	if _, err := ok.check(); err != nil {
		t.Fatalf("check(default) = %v; want nil", err)
	}
	for _, tc := range tests {
		c := ok
		tc.edit(&c)
		if _, err := c.check(); err == nil {
			t.Errorf("check(%s) = nil; want an error", tc.name)
		}
	}
}

func TestSimulationIsSeeded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Conns, cfg.NPCs, cfg.KoreanShare = 2, 6, 0.5
	lines := func() []string {
		c := newSimConn(1, &cfg, newRecorder())
		c.spawnedN = len(c.npcs)
		var out []string
		for _, n := range c.npcs {
			out = append(out, n.name, n.role)
		}
		for range 20 {
			o, _ := c.playerLine(time.Now())
			out = append(out, o.npc, o.m.(*protocol.PlayerSay).Text)
		}
		return out
	}
	a, b := lines(), lines()
	if strings.Join(a, "|") != strings.Join(b, "|") {
		t.Errorf("two simulations with one seed differ:\n%q\n%q", a, b)
	}
	korean := 0
	for _, s := range a {
		if strings.ContainsRune(s, '요') || strings.ContainsRune(s, '다') {
			korean++
		}
	}
	if korean == 0 {
		t.Errorf("no Korean line among 20 with KoreanShare 0.5: %q", a)
	}
}
