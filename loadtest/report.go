package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Report is a run's result: what the summary table, -json and -html show.
//
// Latencies, in milliseconds, over the steady phase (spawn: the ramp):
//   - first_say: player_say sent → first say of its reply received
//   - decision: player_say sent → its decision received
//   - final_say: player_say sent → its final say (the whole line) received
//   - act: player_say sent → the act it caused received
//   - act_rtt: an act's final action_status sent → the server's ack: the
//     pong to a ping sent right behind it, or the NPC's next act if sooner
//     (the game's execution time is not part of it)
//   - spawn: spawn sent → spawned received
//   - model_ttft: the model's time to first token for a decision answering
//     a player line, from the decision's stats (engine wait and prefill)
type Report struct {
	Scenario Scenario                `json:"scenario"`
	Started  time.Time               `json:"started"`
	SteadyS  float64                 `json:"steady_s"` // length of the steady phase
	Latency  map[string]LatencyStats `json:"latency_ms"`
	// TickLag is the behaviour tick lag from the server's
	// anima_behavior_tick_lag_seconds histogram; null when the server does
	// not export it.
	TickLag *LatencyStats     `json:"tick_lag_ms"`
	Counts  map[string]uint64 `json:"counts"`
	Rates   Rates             `json:"rates"`
	Tokens  Tokens            `json:"tokens"`
	// Errors are errors by kind: protocol error codes the server sent,
	// and the tool's own (dial, spawn:CODE, send:KIND, no_reply,
	// session_lost, client_stopped:KIND). An unknown_action answering a
	// final status that crossed its action's cancel on the wire is not
	// one: the game cannot avoid it, and the status was owed nothing
	// (Counts' statuses_crossing_cancel counts them; the server's own
	// count is in ServerErrors).
	Errors map[string]uint64 `json:"errors"`
	// ErrorExamples holds the first message of each error kind.
	ErrorExamples map[string]string `json:"error_examples"`
	// Drops are messages lost by kind: client_events (say deltas and
	// decisions the client dropped because its Events buffer was full),
	// server_queue:TYPE (dropped from the server's outbound queues),
	// replay_missed, ack_lost (pings never answered).
	Drops map[string]uint64 `json:"drops"`
	// ServerErrors are error messages the server sent, by code, from its
	// metrics (all of its clients, when the server is shared).
	ServerErrors map[string]uint64 `json:"server_errors"`
	// Thinks are the server's NPC thinks over the whole run, from its
	// anima_npc_* counters; null when it exports none (the stand-in).
	Thinks    *Thinks         `json:"thinks"`
	Client    ClientTotals    `json:"client"`
	Resources ResourceSummary `json:"resources"`
	Notes     []string        `json:"notes"`
	Series    []Sample        `json:"series"`
}

// Scenario echoes the configuration.
type Scenario struct {
	Target          string  `json:"target"`
	Model           string  `json:"model"`
	Conns           int     `json:"conns"`
	NPCsPerConn     int     `json:"npcs_per_conn"`
	DurationS       float64 `json:"duration_s"`
	RampS           float64 `json:"ramp_s"`
	SayEveryMS      float64 `json:"say_every_ms"`
	PerceiveEveryMS float64 `json:"perceive_every_ms"`
	EventEveryMS    float64 `json:"event_every_ms"`
	KoreanShare     float64 `json:"korean_share"`
	Conversation    float64 `json:"conversation_lines"` // mean lines a player says to one NPC
	Seed            uint64  `json:"seed"`
}

// Rates are per second of the steady phase.
type Rates struct {
	Lines      float64  `json:"lines_per_s"`
	Decisions  float64  `json:"decisions_per_s"`
	Replies    float64  `json:"replies_per_s"`
	Acts       float64  `json:"acts_per_s"`
	Statuses   float64  `json:"statuses_per_s"`
	Perceives  float64  `json:"perceives_per_s"`
	MessagesIn float64  `json:"messages_in_per_s"`
	Tokens     *float64 `json:"tokens_per_s"` // null when no decision carried token counts
}

// Tokens total the decisions' inference stats over the steady phase.
type Tokens struct {
	Prompt    uint64 `json:"prompt"`
	Reused    uint64 `json:"reused"`
	Generated uint64 `json:"generated"`
	// WithStats counts decisions that carried token counts; Fallback
	// those marked fallback (no model ran).
	WithStats     uint64   `json:"decisions_with_stats"`
	Fallback      uint64   `json:"decisions_fallback"`
	CacheReusePct *float64 `json:"cache_reuse_pct"` // reused / prompt; null when no prompt tokens
}

// Thinks count what the NPC minds did with their chances to think: under
// overload ambient thoughts should be refused before players' lines go
// unanswered, and these show whether they were.
type Thinks struct {
	Started uint64 `json:"started"`
	Player  uint64 `json:"player"` // of Started, for a player's line
	Other   uint64 `json:"other"`  // of Started, reactions, chat and ambient thoughts
	// AmbientRefused counts ambient thoughts the salience gate refused
	// for its budget or for overload; TreeOnly thinks not run because the
	// model was overloaded (players' lines among them get an error).
	AmbientRefused uint64 `json:"ambient_refused"`
	TreeOnly       uint64 `json:"tree_only"`
}

// ClientTotals sum the clients' Stats.
type ClientTotals struct {
	Received   uint64 `json:"received"`
	Duplicates uint64 `json:"duplicates"`
	BadFrames  uint64 `json:"bad_frames"`
	Reconnects uint64 `json:"reconnects"`
	Unfinished int    `json:"unfinished_lines"` // lines still unanswered when the run ended
}

// ResourceSummary summarizes the Resources series.
type ResourceSummary struct {
	Source          string `json:"source"`
	RSSStartBytes   uint64 `json:"rss_start_bytes"`
	RSSPeakBytes    uint64 `json:"rss_peak_bytes"`
	RSSEndBytes     uint64 `json:"rss_end_bytes"`
	GoroutinesStart int    `json:"goroutines_start"`
	GoroutinesPeak  int    `json:"goroutines_peak"`
	GoroutinesEnd   int    `json:"goroutines_end"`
	// CPUCores is the mean CPU seconds used per second over the steady
	// phase (0 when not measured).
	CPUCores float64 `json:"cpu_cores_mean"`
}

// The server metrics the report reads.
const (
	metricQueueDrops = "anima_queue_drops_total"
	metricErrors     = "anima_errors_total"
	metricTickLag    = "anima_behavior_tick_lag_seconds"
	metricThinks     = "anima_npc_thinks_total"
	metricPlayer     = "anima_npc_player_thinks_total"
	metricRefused    = "anima_npc_ambient_refused_total"
	metricTreeOnly   = "anima_npc_tree_only_total"
	metricRSS        = "process_resident_memory_bytes"
	metricGoroutines = "go_goroutines"
	metricCPU        = "process_cpu_seconds_total"
)

func buildReport(cfg *Config, rec *Recorder, conns []*simConn, samples []Sample, steadyS float64,
	unfinished int, before, after []*dto.MetricFamily) *Report {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := &Report{
		Scenario: Scenario{
			Target: cfg.Target, Conns: cfg.Conns, NPCsPerConn: cfg.NPCs,
			DurationS: cfg.Duration.Seconds(), RampS: cfg.Ramp.Seconds(),
			SayEveryMS: ms(cfg.SayEvery), PerceiveEveryMS: ms(cfg.PerceiveEvery), EventEveryMS: ms(cfg.EventEvery),
			KoreanShare: max(0, cfg.KoreanShare), Conversation: cfg.Conversation, Seed: cfg.Seed,
		},
		SteadyS: steadyS,
		Latency: make(map[string]LatencyStats, numLatencies),
		Errors:  rec.errs, ErrorExamples: rec.examples, Drops: rec.drops,
		ServerErrors: map[string]uint64{},
		Series:       samples,
	}
	for i := range rec.total {
		r.Latency[Latency(i).String()] = statsOf(&rec.total[i])
	}
	s := rec.steadyC
	r.Counts = map[string]uint64{
		"lines_sent": s.linesSent, "lines_superseded": s.superseded, "replies": s.repliesDone, "decisions": s.decisions, "say_deltas": s.deltas,
		"acts": s.acts, "cancels": s.cancels, "statuses_crossing_cancel": s.crossed, "statuses_sent": s.statuses, "perceives_sent": s.perceives, "perceives_skipped": s.skipped,
		"perceive_events": s.events, "messages_in": s.framesIn,
		"lines_sent_total": rec.all.linesSent, "messages_in_total": rec.all.framesIn,
	}
	per := func(n uint64) float64 {
		if steadyS <= 0 {
			return 0
		}
		return float64(n) / steadyS
	}
	r.Rates = Rates{Lines: per(s.linesSent), Decisions: per(s.decisions), Replies: per(s.repliesDone),
		Acts: per(s.acts), Statuses: per(s.statuses), Perceives: per(s.perceives), MessagesIn: per(s.framesIn)}
	if s.skipped > 0 && s.skipped*100 > s.perceives+s.skipped {
		r.Notes = append(r.Notes, fmt.Sprintf("the load generator fell behind: %d of %d scheduled perceives (%.0f%%) were skipped because its world steps ran late; on a busy machine the clients compete with the server for CPU",
			s.skipped, s.perceives+s.skipped, 100*float64(s.skipped)/float64(s.perceives+s.skipped)))
	}
	if s.superseded > 0 && s.superseded*10 > s.linesSent {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of %d player lines (%.0f%%) were superseded by a newer line to the same NPC before their answer came (PROTOCOL.md §4.6): the NPCs answer slower than they are spoken to, and each cut answer is work thrown away",
			s.superseded, s.linesSent, 100*float64(s.superseded)/float64(s.linesSent)))
	}
	if r.Latency[LatAct.String()].Count == 0 && s.acts > 0 && s.decisions > 0 {
		r.Notes = append(r.Notes, "act latency: n/a — no act carried a player line's request id (NPC minds' acts come from their behaviour trees, which answer no request)")
	}
	r.Tokens = Tokens{Prompt: s.promptTokens, Reused: s.reusedTokens, Generated: s.genTokens,
		WithStats: s.withStats, Fallback: s.fallbacks}
	if s.withStats > 0 {
		t := per(s.genTokens)
		r.Rates.Tokens = &t
		if s.promptTokens > 0 {
			pct := 100 * float64(s.reusedTokens) / float64(s.promptTokens)
			r.Tokens.CacheReusePct = &pct
		}
	} else {
		r.Notes = append(r.Notes, fmt.Sprintf("tokens/s and cache reuse: n/a — none of the %d decisions carried token counts (%d were fallback decisions, which the stand-in host always sends)", s.decisions, s.fallbacks))
	}

	var dropped uint64
	for _, c := range conns {
		if c.cl == nil {
			continue
		}
		st := c.cl.Stats()
		dropped += st.Dropped
		r.Client.Received += st.Received
		r.Client.Duplicates += st.Duplicates
		r.Client.BadFrames += st.BadFrames
		r.Client.Reconnects += st.Reconnects
	}
	if dropped > 0 {
		r.Drops["client_events"] += dropped
	}
	r.Client.Unfinished = unfinished
	if model := modelOf(conns); model != "" {
		r.Scenario.Model = model
	}

	if after != nil {
		for k, v := range counterDelta(before, after, metricQueueDrops, "type") {
			if v > 0 {
				r.Drops["server_queue:"+k] += v
			}
		}
		for k, v := range counterDelta(before, after, metricErrors, "code") {
			if v > 0 {
				r.ServerErrors[k] = v
			}
		}
		r.TickLag = histogramDelta(before, after, metricTickLag)
		r.Thinks = thinksDelta(before, after)
	}
	if r.TickLag == nil {
		r.Notes = append(r.Notes, "behaviour tick lag: n/a — the server exports no "+metricTickLag+
			" histogram (the stand-in host runs no behaviour trees)")
	}

	r.Resources.Source = cfg.ResourcesFrom
	for i, smp := range samples {
		if smp.RSSBytes == 0 && smp.Goroutines == 0 {
			continue
		}
		if i == 0 || r.Resources.RSSStartBytes == 0 && r.Resources.GoroutinesStart == 0 {
			r.Resources.RSSStartBytes, r.Resources.GoroutinesStart = smp.RSSBytes, smp.Goroutines
		}
		r.Resources.RSSPeakBytes = max(r.Resources.RSSPeakBytes, smp.RSSBytes)
		r.Resources.GoroutinesPeak = max(r.Resources.GoroutinesPeak, smp.Goroutines)
		r.Resources.RSSEndBytes, r.Resources.GoroutinesEnd = smp.RSSBytes, smp.Goroutines
	}
	var cpu float64
	var n int
	for _, smp := range samples {
		if smp.T > cfg.Ramp.Seconds()+1 && smp.CPUCores > 0 {
			cpu += smp.CPUCores
			n++
		}
	}
	if n > 0 {
		r.Resources.CPUCores = cpu / float64(n)
	}
	return r
}

// modelOf returns the model name the server announced.
func modelOf(conns []*simConn) string {
	for _, c := range conns {
		if c.cl != nil {
			m := c.cl.Welcome().Model
			if m.Backend != "" {
				return m.Name + " (" + m.Backend + ")"
			}
			return m.Name
		}
	}
	return ""
}

// family finds a metric family by name.
func family(fams []*dto.MetricFamily, name string) *dto.MetricFamily {
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func labelValue(m *dto.Metric, label string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == label {
			return l.GetValue()
		}
	}
	return ""
}

// thinksDelta reads the NPC minds' counters' growth between two gathers;
// nil when the server exports none.
func thinksDelta(before, after []*dto.MetricFamily) *Thinks {
	if family(after, metricThinks) == nil {
		return nil
	}
	total := func(name string) uint64 { return counterDelta(before, after, name, "")[""] }
	th := &Thinks{Started: total(metricThinks), Player: total(metricPlayer),
		AmbientRefused: total(metricRefused), TreeOnly: total(metricTreeOnly)}
	th.Other = th.Started - min(th.Player, th.Started)
	return th
}

// counterDelta returns a labelled counter's growth between two gathers, by
// the label's value.
func counterDelta(before, after []*dto.MetricFamily, name, label string) map[string]uint64 {
	out := map[string]uint64{}
	fa := family(after, name)
	if fa == nil {
		return out
	}
	base := map[string]float64{}
	if fb := family(before, name); fb != nil {
		for _, m := range fb.GetMetric() {
			base[labelValue(m, label)] += m.GetCounter().GetValue()
		}
	}
	for _, m := range fa.GetMetric() {
		k := labelValue(m, label)
		if d := m.GetCounter().GetValue() - base[k]; d > 0 {
			out[k] += uint64(math.Round(d))
		}
	}
	return out
}

// gauge returns a gauge's value (the first series), or false.
func gauge(fams []*dto.MetricFamily, name string) (float64, bool) {
	f := family(fams, name)
	if f == nil || len(f.GetMetric()) == 0 {
		return 0, false
	}
	m := f.GetMetric()[0]
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue(), true
	}
	if m.GetUntyped() != nil {
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// ResourcesFromMetrics reads RSS and goroutines from a server's metrics
// (process_resident_memory_bytes, go_goroutines).
func ResourcesFromMetrics(fams []*dto.MetricFamily) (Resources, bool) {
	rss, ok1 := gauge(fams, metricRSS)
	g, ok2 := gauge(fams, metricGoroutines)
	var cpu float64
	if f := family(fams, metricCPU); f != nil && len(f.GetMetric()) > 0 {
		cpu = f.GetMetric()[0].GetCounter().GetValue()
	}
	return Resources{RSSBytes: uint64(rss), Goroutines: int(g), CPUSeconds: cpu}, ok1 || ok2
}

// histogramDelta estimates percentiles of a Prometheus histogram's growth
// between two gathers (summed over its series), interpolating linearly
// within buckets as Prometheus's histogram_quantile does. It returns nil if
// the histogram is absent or saw no observations.
func histogramDelta(before, after []*dto.MetricFamily, name string) *LatencyStats {
	fa := family(after, name)
	if fa == nil {
		return nil
	}
	type bucket struct{ upper, cum float64 }
	sum := func(f *dto.MetricFamily) (bs []bucket, count, total float64) {
		if f == nil {
			return nil, 0, 0
		}
		idx := map[float64]int{}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if h == nil {
				continue
			}
			count += float64(h.GetSampleCount())
			total += h.GetSampleSum()
			for _, b := range h.GetBucket() {
				i, ok := idx[b.GetUpperBound()]
				if !ok {
					i = len(bs)
					idx[b.GetUpperBound()] = i
					bs = append(bs, bucket{upper: b.GetUpperBound()})
				}
				bs[i].cum += float64(b.GetCumulativeCount())
			}
		}
		return bs, count, total
	}
	ba, na, ta := sum(fa)
	bb, nb, tb := sum(family(before, name))
	n := na - nb
	if n <= 0 || len(ba) == 0 {
		return nil
	}
	prev := map[float64]float64{}
	for _, b := range bb {
		prev[b.upper] = b.cum
	}
	for i := range ba {
		ba[i].cum -= prev[ba[i].upper]
	}
	// Buckets come sorted by upper bound from both the client library and
	// the text parser.
	q := func(p float64) float64 {
		rank := p * n
		lo, below := 0.0, 0.0
		for _, b := range ba {
			if b.cum >= rank {
				if math.IsInf(b.upper, 1) {
					return lo
				}
				if b.cum == below {
					return b.upper
				}
				return lo + (b.upper-lo)*(rank-below)/(b.cum-below)
			}
			lo, below = b.upper, b.cum
		}
		return lo
	}
	return &LatencyStats{Count: uint64(n), P50MS: 1000 * q(0.5), P95MS: 1000 * q(0.95), P99MS: 1000 * q(0.99),
		MaxMS: 1000 * q(1), MeanMS: 1000 * (ta - tb) / n}
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("loadtest: write json: %w", err)
	}
	return nil
}

// latencyLabels are the summary table's row labels; logically constant.
var latencyLabels = [numLatencies]string{
	"first say delta", "decision", "final say", "act", "act round trip", "spawn", "model's first token",
}

// WriteText writes the terminal summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	sc := r.Scenario
	fmt.Fprintf(&b, "anima load: %d conns × %d NPCs = %d NPCs, %gs (ramp %gs, steady %.1fs) against %s",
		sc.Conns, sc.NPCsPerConn, sc.Conns*sc.NPCsPerConn, sc.DurationS, sc.RampS, r.SteadyS, sc.Target)
	if sc.Model != "" {
		fmt.Fprintf(&b, ", model %s", sc.Model)
	}
	fmt.Fprintf(&b, "\nplayer line every %gms overall (conversations of %g lines on average), perceive every %gms per NPC, seed %d\n\n",
		sc.SayEveryMS, sc.Conversation, sc.PerceiveEveryMS, sc.Seed)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Labels padded to one width read left-aligned in right-aligned cells.
	fmt.Fprintf(tw, "%-19s\tcount\tp50\tp95\tp99\tmax\t\n", "latency (ms)")
	row := func(label string, s LatencyStats) {
		label = fmt.Sprintf("%-19s", label)
		if s.Count == 0 {
			fmt.Fprintf(tw, "%s\t0\t–\t–\t–\t–\t\n", label)
			return
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", label, s.Count, s.P50MS, s.P95MS, s.P99MS, s.MaxMS)
	}
	for i := range numLatencies {
		row(latencyLabels[i], r.Latency[Latency(i).String()])
	}
	if r.TickLag != nil {
		row("behaviour tick lag", *r.TickLag)
	} else {
		fmt.Fprintf(tw, "%-19s\tn/a\t\t\t\t\t\n", "behaviour tick lag")
	}
	tw.Flush()

	rt := r.Rates
	fmt.Fprintf(&b, "\nthroughput (steady): %.1f lines/s, %.1f decisions/s, %.1f replies/s, %.1f acts/s, %.0f perceives/s, %.0f msgs in/s",
		rt.Lines, rt.Decisions, rt.Replies, rt.Acts, rt.Perceives, rt.MessagesIn)
	if rt.Tokens != nil {
		fmt.Fprintf(&b, ", %.1f tokens/s", *rt.Tokens)
	} else {
		b.WriteString(", tokens/s n/a")
	}
	if p := r.Tokens.CacheReusePct; p != nil {
		fmt.Fprintf(&b, "\nprompt tokens reused from cache: %.1f%% (%d of %d)", *p, r.Tokens.Reused, r.Tokens.Prompt)
	} else {
		b.WriteString("\nprompt tokens reused from cache: n/a")
	}
	if th := r.Thinks; th != nil {
		fmt.Fprintf(&b, "\nNPC thinks (whole run): %d started, %d for players' lines and %d others; %d ambient refused by the gate; %d left to the tree for overload",
			th.Started, th.Player, th.Other, th.AmbientRefused, th.TreeOnly)
	}
	fmt.Fprintf(&b, "\nerrors: %s\ndropped: %s\nserver errors sent: %s\n",
		countsText(r.Errors), countsText(r.Drops), countsText(r.ServerErrors))
	fmt.Fprintf(&b, "client: %d frames in, %d reconnects, %d duplicates, %d bad frames, %d lines unanswered at the end\n",
		r.Client.Received, r.Client.Reconnects, r.Client.Duplicates, r.Client.BadFrames, r.Client.Unfinished)
	if rs := r.Resources; rs.RSSPeakBytes > 0 || rs.GoroutinesPeak > 0 {
		fmt.Fprintf(&b, "resources (%s): RSS %s → peak %s → %s; goroutines %d → peak %d → %d; CPU %.2f cores (steady mean)\n", rs.Source,
			mib(rs.RSSStartBytes), mib(rs.RSSPeakBytes), mib(rs.RSSEndBytes), rs.GoroutinesStart, rs.GoroutinesPeak, rs.GoroutinesEnd, rs.CPUCores)
	}
	for _, k := range sortedKeys(r.ErrorExamples) {
		fmt.Fprintf(&b, "first %s: %s\n", k, r.ErrorExamples[k])
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// countsText renders counts by kind, or "none".
func countsText(m map[string]uint64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
