package loadtest

import (
	"bytes"
	"flag"
	"fmt"
	dto "github.com/prometheus/client_model/go"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixedReport is a report with every section filled, as a model-driven run
// would fill it.
func fixedReport() *Report {
	tok, pct := 812.5, 87.25
	return &Report{
		Scenario: Scenario{Target: "ws://127.0.0.1:7777/v1/ws", Model: "qwen3-moe (native)", Conns: 100, NPCsPerConn: 20,
			DurationS: 300, RampS: 30, SayEveryMS: 50, PerceiveEveryMS: 100, EventEveryMS: 2000, KoreanShare: 0.5, Conversation: 4, Seed: 1},
		Started: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC),
		Thinks:  &Thinks{Started: 6600, Player: 5400, Other: 1200, AmbientRefused: 310, TreeOnly: 3},
		SteadyS: 270,
		Latency: map[string]LatencyStats{
			"first_say":  {Count: 5400, P50MS: 81.2, P95MS: 170.4, P99MS: 231.9, MaxMS: 410.3, MeanMS: 92.1},
			"decision":   {Count: 5390, P50MS: 640, P95MS: 1400.5, P99MS: 1890, MaxMS: 2600, MeanMS: 700},
			"final_say":  {Count: 5400, P50MS: 900, P95MS: 1700, P99MS: 2100, MaxMS: 3000, MeanMS: 950},
			"act":        {Count: 5380, P50MS: 650, P95MS: 1410, P99MS: 1900, MaxMS: 2610, MeanMS: 710},
			"act_rtt":    {Count: 9000, P50MS: 0.4, P95MS: 1.2, P99MS: 3.5, MaxMS: 20.1, MeanMS: 0.6},
			"spawn":      {Count: 2000, P50MS: 0.2, P95MS: 0.9, P99MS: 2.0, MaxMS: 5.5, MeanMS: 0.3},
			"model_ttft": {Count: 5390, P50MS: 42.5, P95MS: 120.2, P99MS: 180, MaxMS: 300.4, MeanMS: 55},
		},
		TickLag: &LatencyStats{Count: 5400000, P50MS: 0.5, P95MS: 2, P99MS: 4.8, MaxMS: 10, MeanMS: 0.7},
		Rates:   Rates{Lines: 20, Decisions: 24.5, Replies: 20, Acts: 40, Statuses: 120, Perceives: 20000, MessagesIn: 160, Tokens: &tok},
		Tokens:  Tokens{Prompt: 1000000, Reused: 872500, Generated: 219375, WithStats: 6615, CacheReusePct: &pct},
		Errors:  map[string]uint64{"overloaded": 3, "no_reply": 1},
		Drops:   map[string]uint64{"server_queue:say": 12},
		Client:  ClientTotals{Received: 43200, Reconnects: 1},
		Resources: ResourceSummary{Source: "the server's /metrics", RSSStartBytes: 900 << 20, RSSPeakBytes: 1500 << 20,
			RSSEndBytes: 1400 << 20, GoroutinesStart: 220, GoroutinesPeak: 640, GoroutinesEnd: 230, CPUCores: 1.85},
	}
}

func TestWriteTextGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := fixedReport().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "summary.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("WriteText() =\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

// metricsBefore and metricsAfter are two scrapes of a server's /metrics.
const metricsBefore = `# TYPE anima_queue_drops_total counter
anima_queue_drops_total{type="say"} 10
# TYPE anima_errors_total counter
anima_errors_total{code="rate_limited"} 4
# TYPE anima_behavior_tick_lag_seconds histogram
anima_behavior_tick_lag_seconds_bucket{le="0.001"} 50
anima_behavior_tick_lag_seconds_bucket{le="0.01"} 100
anima_behavior_tick_lag_seconds_bucket{le="0.1"} 100
anima_behavior_tick_lag_seconds_bucket{le="+Inf"} 100
anima_behavior_tick_lag_seconds_sum 0.3
anima_behavior_tick_lag_seconds_count 100
`

const metricsAfter = `# TYPE anima_queue_drops_total counter
anima_queue_drops_total{type="say"} 25
anima_queue_drops_total{type="decision"} 3
# TYPE anima_errors_total counter
anima_errors_total{code="rate_limited"} 4
anima_errors_total{code="overloaded"} 2
# TYPE anima_behavior_tick_lag_seconds histogram
anima_behavior_tick_lag_seconds_bucket{le="0.001"} 50
anima_behavior_tick_lag_seconds_bucket{le="0.01"} 150
anima_behavior_tick_lag_seconds_bucket{le="0.1"} 200
anima_behavior_tick_lag_seconds_bucket{le="+Inf"} 200
anima_behavior_tick_lag_seconds_sum 2.8
anima_behavior_tick_lag_seconds_count 200
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.048576e+08
# TYPE go_goroutines gauge
go_goroutines 42
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
`

func TestServerMetricsDeltas(t *testing.T) {
	before, err := parseMetrics(strings.NewReader(metricsBefore))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseMetrics(strings.NewReader(metricsAfter))
	if err != nil {
		t.Fatal(err)
	}
	drops := counterDelta(before, after, metricQueueDrops, "type")
	if drops["say"] != 15 || drops["decision"] != 3 || len(drops) != 2 {
		t.Errorf("counterDelta(drops) = %v; want say 15, decision 3", drops)
	}
	errs := counterDelta(before, after, metricErrors, "code")
	if errs["overloaded"] != 2 || errs["rate_limited"] != 0 {
		t.Errorf("counterDelta(errors) = %v; want overloaded 2 and no new rate_limited", errs)
	}
	// Between the scrapes: 50 ticks in (1 ms, 10 ms], 50 in (10 ms, 100 ms].
	lag := histogramDelta(before, after, metricTickLag)
	if lag == nil {
		t.Fatal("histogramDelta = nil; want the 100 new observations")
	}
	want := LatencyStats{Count: 100, P50MS: 10, P95MS: 91, P99MS: 98.2, MaxMS: 100, MeanMS: 25}
	near := func(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }
	if lag.Count != want.Count || !near(lag.P50MS, want.P50MS) || !near(lag.P95MS, want.P95MS) ||
		!near(lag.P99MS, want.P99MS) || !near(lag.MaxMS, want.MaxMS) || !near(lag.MeanMS, want.MeanMS) {
		t.Errorf("histogramDelta = %+v; want %+v", *lag, want)
	}
	if got := histogramDelta(after, after, metricTickLag); got != nil {
		t.Errorf("histogramDelta with no new observations = %+v; want nil", got)
	}
	res, ok := ResourcesFromMetrics(after)
	if !ok || res.RSSBytes != 100<<20 || res.Goroutines != 42 || res.CPUSeconds != 12.5 {
		t.Errorf("ResourcesFromMetrics = %+v, %v; want 100 MiB, 42 goroutines, 12.5 CPU seconds", res, ok)
	}
}

func TestVMRSS(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"Name:\tanima\nVmRSS:\t  123456 kB\nThreads:\t8\n", 123456 << 10, false},
		{"VmRSS: 1 kB", 1024, false},
		{"Name: x\n", 0, true},
		{"VmRSS: lots kB\n", 0, true},
		{"VmRSS: 12 MB\n", 0, true},
		{"VmRSS: 99999999999999999 kB\n", 0, true},
	}
	for _, tc := range tests {
		got, err := vmRSS([]byte(tc.in))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("vmRSS(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestMetricsURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://127.0.0.1:7777/v1/ws", "http://127.0.0.1:7777/metrics"},
		{"wss://localhost:443/v1/ws?x=1", "https://localhost:443/metrics"},
	}
	for _, tc := range tests {
		if got, err := MetricsURL(tc.in); got != tc.want || err != nil {
			t.Errorf("MetricsURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := MetricsURL("http://127.0.0.1/"); err == nil {
		t.Errorf("MetricsURL(http) = nil error; want one")
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		top  float64
		n    int
		want string
	}{
		{0, 5, "[0 0.2 0.4 0.6 0.8 1]"},
		{17.4, 5, "[0 5 10 15 20]"},
		{230, 5, "[0 50 100 150 200 250]"},
		{1890, 4, "[0 500 1000 1500 2000]"},
	}
	for _, tc := range tests {
		got := niceTicks(tc.top, tc.n)
		if s := fmt.Sprint(got); s != tc.want {
			t.Errorf("niceTicks(%v, %d) = %v; want %s", tc.top, tc.n, got, tc.want)
		}
	}
}

// The notes explain what a run against NPC minds shows: lines superseded
// by newer ones when NPCs answer slower than they are spoken to, and no act
// latency where acts answer no request.
func TestReportNotesSupersededLinesAndActs(t *testing.T) {
	cfg := DefaultConfig()
	rec := newRecorder()
	rec.steadyC = counters{linesSent: 100, superseded: 40, decisions: 30, acts: 50, withStats: 30, promptTokens: 900, genTokens: 300}
	r := buildReport(&cfg, rec, nil, nil, 10, 0, nil, nil)
	notes := strings.Join(r.Notes, "\n")
	for _, want := range []string{"40 of 100 player lines (40%) were superseded", "act latency: n/a"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	rec.steadyC.superseded = 5
	if notes := strings.Join(buildReport(&cfg, rec, nil, nil, 10, 0, nil, nil).Notes, "\n"); strings.Contains(notes, "superseded") {
		t.Errorf("5%% superseded is noted:\n%s", notes)
	}
}

// TestThinksDelta: the report splits the minds' thinks into players' and
// others', from the server's counters' growth over the run.
func TestThinksDelta(t *testing.T) {
	parse := func(text string) []*dto.MetricFamily {
		fams, err := parseMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return fams
	}
	counters := func(thinks, player, refused, treeOnly int) string {
		var b strings.Builder
		for _, m := range []struct {
			name string
			v    int
		}{{metricThinks, thinks}, {metricPlayer, player}, {metricRefused, refused}, {metricTreeOnly, treeOnly}} {
			fmt.Fprintf(&b, "# TYPE %s counter\n%s %d\n", m.name, m.name, m.v)
		}
		return b.String()
	}
	before := parse(counters(10, 4, 0, 1))
	after := parse(counters(110, 84, 300, 6))
	want := Thinks{Started: 100, Player: 80, Other: 20, AmbientRefused: 300, TreeOnly: 5}
	if got := thinksDelta(before, after); got == nil || *got != want {
		t.Errorf("thinksDelta = %+v; want %+v", got, want)
	}
	if got := thinksDelta(nil, parse("anima_errors_total{code=\"x\"} 1\n")); got != nil {
		t.Errorf("thinksDelta against a server without minds = %+v; want nil", got)
	}
}
