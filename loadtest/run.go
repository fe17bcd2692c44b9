package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/anima-rt/anima/server"
)

// Config is a load scenario. Zero durations and shares take the defaults
// of DefaultConfig.
type Config struct {
	// URL is the server's websocket endpoint (ws://127.0.0.1:PORT/v1/ws);
	// only loopback addresses are accepted. APIKey is sent if set.
	URL    string
	APIKey string
	// Target describes the server for the report ("in-process, stand-in
	// host").
	Target string

	Conns int // simulated game servers, one connection each
	NPCs  int // NPCs per connection

	// Duration is the whole run, Ramp its first part, in which the
	// connections start one after another; the steady phase is the rest.
	// The summary's latencies and rates are the steady phase's.
	Duration, Ramp time.Duration
	// SayEvery is the mean pause between player lines across the whole
	// run (a Poisson process spread over the connections).
	SayEvery time.Duration
	// PerceiveEvery is how often each NPC gets a perceive (10 Hz: 100 ms).
	PerceiveEvery time.Duration
	// EventEvery is the mean pause between attacks, gifts and thefts on
	// each connection.
	EventEvery time.Duration
	// KoreanShare is the share of player lines in Korean, in [0, 1];
	// negative means none.
	KoreanShare float64
	// Conversation is the mean number of lines a player says to one NPC
	// before turning to another (geometric; default 4): players talk in
	// conversations, which is what lets an NPC's next prompt reuse the
	// last one's keys and values. 1 sends every line to a random NPC.
	Conversation float64
	// Persona, if set, is the persona every NPC is spawned with; otherwise
	// each gets an inline character.
	Persona string
	// Seed makes the simulation's choices repeatable.
	Seed uint64
	// Drain is how long to wait for outstanding replies after the run;
	// ReplyTimeout is how long a line may wait for its final say before it
	// counts as no_reply.
	Drain, ReplyTimeout time.Duration

	// Resources reads the server's RSS and goroutines once a second; nil
	// leaves them out.
	Resources func(ctx context.Context) (Resources, error)
	// ResourcesFrom says what Resources measures, for the report
	// ("this process: server and load clients").
	ResourcesFrom string
	// ServerMetrics gathers the server's Prometheus metrics (queue drops,
	// errors, tick lag) at the start and the end; nil leaves them out.
	ServerMetrics func(ctx context.Context) ([]*dto.MetricFamily, error)
	// AtEnd, if set, is called when the steady phase ends, before any
	// client closes (a heap profile of the whole load, say); Run returns
	// its error with the report.
	AtEnd func() error
	// Progress, if set, is called once a second with the last second's
	// figures and the run's elapsed share in [0, 1].
	Progress func(s Sample, done float64)
	// Logger receives the clients' logs; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig is the short default scenario (make load).
func DefaultConfig() Config {
	return Config{
		Conns: 20, NPCs: 20,
		Duration: time.Minute, Ramp: 10 * time.Second,
		SayEvery: 50 * time.Millisecond, PerceiveEvery: 100 * time.Millisecond,
		EventEvery: 2 * time.Second, KoreanShare: 0.5, Conversation: 4, Seed: 1,
		Drain: 3 * time.Second, ReplyTimeout: 15 * time.Second,
	}
}

// check fills defaults and rejects what cannot run.
func (c Config) check() (Config, error) {
	d := DefaultConfig()
	def := func(v *time.Duration, x time.Duration) {
		if *v == 0 {
			*v = x
		}
	}
	def(&c.SayEvery, d.SayEvery)
	def(&c.PerceiveEvery, d.PerceiveEvery)
	def(&c.EventEvery, d.EventEvery)
	def(&c.Drain, d.Drain)
	def(&c.ReplyTimeout, d.ReplyTimeout)
	if c.KoreanShare == 0 {
		c.KoreanShare = d.KoreanShare
	}
	if c.Conversation == 0 {
		c.Conversation = d.Conversation
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return c, fmt.Errorf("loadtest: url %q: %w", c.URL, err)
	case u.Scheme != "ws" && u.Scheme != "wss":
		return c, fmt.Errorf("loadtest: url %q: want ws:// or wss://", c.URL)
	case !server.IsLoopback(u.Host):
		return c, fmt.Errorf("loadtest: url %q: only loopback servers may be loaded", c.URL)
	case c.Conns < 1 || c.Conns > 10000:
		return c, fmt.Errorf("loadtest: conns %d: want 1 to 10000", c.Conns)
	case c.NPCs < 1 || c.NPCs > 10000:
		return c, fmt.Errorf("loadtest: npcs %d: want 1 to 10000", c.NPCs)
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return c, fmt.Errorf("loadtest: duration %v: want more than 0 and at most 24h", c.Duration)
	case c.Ramp < 0 || c.Ramp >= c.Duration:
		return c, fmt.Errorf("loadtest: ramp %v: want at least 0 and less than the duration %v", c.Ramp, c.Duration)
	case c.SayEvery < 0 || c.PerceiveEvery < 10*time.Millisecond || c.EventEvery < 0:
		return c, fmt.Errorf("loadtest: say-every %v, perceive-every %v, event-every %v: want positive pauses, perceives at most 100 Hz",
			c.SayEvery, c.PerceiveEvery, c.EventEvery)
	case c.KoreanShare > 1:
		return c, fmt.Errorf("loadtest: korean share %v: want at most 1", c.KoreanShare)
	case !(c.Conversation >= 1) || c.Conversation > 1000:
		return c, fmt.Errorf("loadtest: conversation %v: want a mean of 1 to 1000 lines", c.Conversation)
	}
	return c, nil
}

// Resources are the server's resource figures at one moment.
type Resources struct {
	RSSBytes   uint64
	Goroutines int
	// CPUSeconds is the process's user + system CPU time so far; on a
	// shared machine CPU per second is steadier than any latency.
	CPUSeconds float64
}

// Sample is one second of the run.
type Sample struct {
	T          float64                 `json:"t_s"` // seconds since the start, at the end of the second
	Conns      int                     `json:"conns"`
	NPCs       int                     `json:"npcs"`
	Latency    map[string]LatencyStats `json:"latency_ms"`
	Lines      float64                 `json:"lines_per_s"`
	Decisions  float64                 `json:"decisions_per_s"`
	Replies    float64                 `json:"replies_per_s"`
	Acts       float64                 `json:"acts_per_s"`
	Perceives  float64                 `json:"perceives_per_s"`
	MsgsIn     float64                 `json:"messages_in_per_s"`
	Errors     float64                 `json:"errors_per_s"`
	Tokens     *float64                `json:"tokens_per_s"`    // null when no decision carried token counts
	CacheReuse *float64                `json:"cache_reuse_pct"` // null likewise
	CPUCores   float64                 `json:"cpu_cores"`       // CPU seconds used per second; 0 when not measured
	RSSBytes   uint64                  `json:"rss_bytes"`       // 0 when not measured
	Goroutines int                     `json:"goroutines"`      // 0 when not measured
}

// Run runs the scenario against the server at cfg.URL and returns its
// report. It stops by itself after cfg.Duration plus the drain, or sooner
// when ctx ends (the report then covers what ran).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	rec := newRecorder()
	start := time.Now()
	var before []*dto.MetricFamily
	if cfg.ServerMetrics != nil {
		before, _ = cfg.ServerMetrics(ctx) // a failure shows as missing figures
	}

	var active, spawned atomic.Int64
	conns := make([]*simConn, cfg.Conns)
	worldCtx, stopWorlds := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer stopWorlds()

	// The sampler exits when stopSampler is called, after the drain.
	sampleCtx, stopSampler := context.WithCancel(context.Background())
	series := make(chan []Sample, 1)
	go func() {
		series <- sample(sampleCtx, &cfg, rec, start, &active, &spawned)
	}()

	var worlds, readers sync.WaitGroup
	for i := range conns {
		c := newSimConn(i, &cfg, rec)
		conns[i] = c
		worlds.Add(1)
		// Each connection's goroutine exits when its world stops: at the
		// end of the run, or at once if its dial fails.
		go func() {
			defer worlds.Done()
			if cfg.Conns > 1 {
				at := start.Add(cfg.Ramp * time.Duration(i) / time.Duration(cfg.Conns))
				t := time.NewTimer(time.Until(at))
				select {
				case <-t.C:
				case <-worldCtx.Done():
					t.Stop()
					return
				}
			}
			if c.dial(worldCtx) != nil {
				return
			}
			active.Add(1)
			readers.Add(1)
			// The reader exits when the client is closed below.
			go func() { defer readers.Done(); c.read() }()
			c.spawnAll(worldCtx)
			c.mu.Lock()
			spawned.Add(int64(c.spawnedN))
			c.mu.Unlock()
			c.run(worldCtx)
		}()
	}

	steady := time.NewTimer(cfg.Ramp)
	select {
	case <-steady.C:
		rec.setSteady()
	case <-worldCtx.Done():
		steady.Stop()
	}
	steadyStart := time.Now()
	worlds.Wait()
	steadyEnd := time.Now()
	var endErr error
	if cfg.AtEnd != nil {
		if err := cfg.AtEnd(); err != nil {
			endErr = fmt.Errorf("loadtest: at end: %w", err) // after the clients close
		}
	}

	// Drain: give outstanding replies a moment, then close every client.
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil && outstanding(conns) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	unfinished := outstanding(conns)
	var closing sync.WaitGroup
	for _, c := range conns {
		if c.cl == nil {
			continue
		}
		closing.Add(1)
		// Closing waits for the server's close reply; in parallel so the
		// end of the run takes one round trip, not one per connection.
		go func() { defer closing.Done(); c.cl.Close() }()
	}
	closing.Wait()
	readers.Wait()
	stopSampler()
	samples := <-series

	var after []*dto.MetricFamily
	if cfg.ServerMetrics != nil {
		mctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		after, _ = cfg.ServerMetrics(mctx)
		cancel()
	}
	steadyS := 0.0
	if rec.isSteady() {
		steadyS = steadyEnd.Sub(steadyStart).Seconds()
	}
	r := buildReport(&cfg, rec, conns, samples, steadyS, unfinished, before, after)
	r.Started = start
	return r, endErr
}

// outstanding counts player lines still waiting for their reply.
func outstanding(conns []*simConn) int {
	n := 0
	for _, c := range conns {
		c.mu.Lock()
		for _, p := range c.pending {
			if !p.superseded && !p.replied {
				n++
			}
		}
		c.mu.Unlock()
	}
	return n
}

// sample cuts the recorder's interval once a second until ctx ends and
// returns the series.
func sample(ctx context.Context, cfg *Config, rec *Recorder, start time.Time, active, spawned *atomic.Int64) []Sample {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := start
	lastCPU := -1.0
	var out []Sample
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return out
		case now = <-t.C:
		}
		secs := now.Sub(last).Seconds()
		last = now
		lat, c := rec.cut()
		s := Sample{
			T: now.Sub(start).Seconds(), Conns: int(active.Load()), NPCs: int(spawned.Load()),
			Latency: make(map[string]LatencyStats, numLatencies),
			Lines:   float64(c.linesSent) / secs, Decisions: float64(c.decisions) / secs,
			Replies: float64(c.repliesDone) / secs, Acts: float64(c.acts) / secs,
			Perceives: float64(c.perceives) / secs, MsgsIn: float64(c.framesIn) / secs,
			Errors: float64(c.errors) / secs,
		}
		for i, l := range lat {
			s.Latency[Latency(i).String()] = l
		}
		if c.withStats > 0 {
			tok := float64(c.genTokens) / secs
			s.Tokens = &tok
			if c.promptTokens > 0 {
				pct := 100 * float64(c.reusedTokens) / float64(c.promptTokens)
				s.CacheReuse = &pct
			}
		}
		if cfg.Resources != nil {
			rctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
			if res, err := cfg.Resources(rctx); err == nil {
				s.RSSBytes, s.Goroutines = res.RSSBytes, res.Goroutines
				if lastCPU >= 0 && res.CPUSeconds >= lastCPU {
					s.CPUCores = (res.CPUSeconds - lastCPU) / secs
				}
				lastCPU = res.CPUSeconds
			}
			cancel()
		}
		out = append(out, s)
		if cfg.Progress != nil {
			cfg.Progress(s, min(1, s.T/cfg.Duration.Seconds()))
		}
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
