package loadtest

import (
	"sync"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// Latency names what a latency histogram measures.
type Latency int

// The latencies the tool measures. See Report for their exact definitions.
const (
	// LatFirstSay: player_say sent → first say (delta or final) of the
	// reply received.
	LatFirstSay Latency = iota
	// LatDecision: player_say sent → the decision answering it received.
	LatDecision
	// LatFinalSay: player_say sent → the reply's final say received (the
	// whole utterance).
	LatFinalSay
	// LatAct: player_say sent → the act it caused received.
	LatAct
	// LatActRTT: an act's final action_status sent → the server's ack,
	// which is the pong to a ping sent right behind the status (a
	// connection's messages are handled in order, so the pong means the
	// status was handled), or the NPC's next act if that comes first. The
	// game's own execution time is excluded by construction.
	LatActRTT
	// LatSpawn: spawn sent → spawned received.
	LatSpawn
	// LatModelTTFT: the model's own time to first token for a decision
	// answering a player line, as its stats report it (the engine's wait
	// and prefill; not the think queue before it, nor the decision's
	// scaffolding before the say, nor the network). Set beside
	// LatFirstSay, it tells where a slow first say waited.
	LatModelTTFT
	numLatencies
)

// latencyNames are the latencies' names in JSON and tables; logically
// constant.
var latencyNames = [numLatencies]string{"first_say", "decision", "final_say", "act", "act_rtt", "spawn", "model_ttft"}

func (l Latency) String() string { return latencyNames[l] }

// counters are what the simulation counts; one set per run and one per
// one-second interval.
type counters struct {
	linesSent    uint64 // player_say sent
	superseded   uint64 // lines whose answer a newer line to the same NPC cut short or replaced
	repliesDone  uint64 // final says answering a player line
	decisions    uint64 // decisions received (any)
	deltas       uint64 // non-final says received
	acts         uint64 // acts received
	cancels      uint64 // cancels received
	crossed      uint64 // final statuses answered unknown_action because they crossed their action's cancel
	statuses     uint64 // action_status sent
	perceives    uint64 // perceive sent
	skipped      uint64 // perceives skipped because the world step ran late
	events       uint64 // world events (speech, attack, give, steal) put in perceives
	promptTokens uint64 // from decision stats
	reusedTokens uint64
	genTokens    uint64
	withStats    uint64 // decisions whose stats carry token counts
	fallbacks    uint64 // decisions marked fallback (no model ran)
	errors       uint64 // all errors, for the per-second series
	framesIn     uint64 // everything received on Events
}

func (c *counters) add(o *counters) {
	c.linesSent += o.linesSent
	c.superseded += o.superseded
	c.repliesDone += o.repliesDone
	c.decisions += o.decisions
	c.deltas += o.deltas
	c.acts += o.acts
	c.cancels += o.cancels
	c.crossed += o.crossed
	c.statuses += o.statuses
	c.perceives += o.perceives
	c.skipped += o.skipped
	c.events += o.events
	c.promptTokens += o.promptTokens
	c.reusedTokens += o.reusedTokens
	c.genTokens += o.genTokens
	c.withStats += o.withStats
	c.fallbacks += o.fallbacks
	c.errors += o.errors
	c.framesIn += o.framesIn
}

// Recorder collects a run's measurements from every connection's
// goroutines. Latencies go into the run's histograms only in the steady
// phase (after the ramp), and into one-second interval histograms always,
// for the time series.
type Recorder struct {
	mu       sync.Mutex // guards everything below
	steady   bool
	total    [numLatencies]Hist
	interval [numLatencies]Hist
	all      counters // the whole run
	steadyC  counters // the steady phase only
	cur      counters // the current interval
	errs     map[string]uint64
	examples map[string]string // the first message of each error kind
	drops    map[string]uint64
}

func newRecorder() *Recorder {
	return &Recorder{errs: make(map[string]uint64), examples: make(map[string]string), drops: make(map[string]uint64)}
}

// setSteady marks the start of the steady phase.
func (r *Recorder) setSteady() {
	r.mu.Lock()
	r.steady = true
	r.mu.Unlock()
}

func (r *Recorder) isSteady() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.steady
}

// latency records one latency sample.
func (r *Recorder) latency(l Latency, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.interval[l].Record(d)
	if r.steady || l == LatSpawn {
		r.total[l].Record(d)
	}
}

// count adds to counters with f, which must only add.
func (r *Recorder) count(f func(c *counters)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.cur)
	f(&r.all)
	if r.steady {
		f(&r.steadyC)
	}
}

// error counts one error of kind (a protocol error code, or the tool's own
// kinds: dial, spawn, send, no_reply, client_stopped, …); the first
// message of each kind is kept as its example.
func (r *Recorder) error(kind, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.examples[kind]; !ok && msg != "" {
		r.examples[kind] = msg
	}
	r.errs[kind]++
	r.cur.errors++
	r.all.errors++
}

// drop counts n dropped messages of kind.
func (r *Recorder) drop(kind string, n uint64) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	r.drops[kind] += n
	r.mu.Unlock()
}

// decision accounts a decision's stats.
func (r *Recorder) decision(st *protocol.DecisionStats) {
	r.count(func(c *counters) {
		c.decisions++
		if st == nil {
			return
		}
		if st.Fallback {
			c.fallbacks++
		}
		if st.PromptTokens > 0 || st.GeneratedTokens > 0 {
			c.withStats++
			c.promptTokens += uint64(max(0, st.PromptTokens))
			c.reusedTokens += uint64(max(0, st.ReusedTokens))
			c.genTokens += uint64(max(0, st.GeneratedTokens))
		}
	})
}

// cut ends the current interval: it returns the interval's percentiles and
// counters and starts a new one.
func (r *Recorder) cut() (lat [numLatencies]LatencyStats, c counters) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.interval {
		lat[i] = statsOf(&r.interval[i])
		r.interval[i].Reset()
	}
	c = r.cur
	r.cur = counters{}
	return lat, c
}

// LatencyStats summarize one latency histogram, in milliseconds.
type LatencyStats struct {
	Count  uint64  `json:"count"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
	MeanMS float64 `json:"mean_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func statsOf(h *Hist) LatencyStats {
	return LatencyStats{
		Count: h.Count(), P50MS: ms(h.Quantile(0.50)), P95MS: ms(h.Quantile(0.95)),
		P99MS: ms(h.Quantile(0.99)), MaxMS: ms(h.Max()), MeanMS: ms(h.Mean()),
	}
}
