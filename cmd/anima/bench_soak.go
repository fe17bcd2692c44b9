package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
)

// anima bench -soak is issue 4's randomized serving workload: callers
// submit overlapping NPC-like prompts to one engine for a set time — every
// NPC's prompt starts with its world's lore, then its persona, then a
// conversation that grows turn by turn (and is cut back when it outgrows
// the context, as a mind summarises), then a new stimulus: a player's
// line, a reaction or an ambient thought, each with its priority, the
// player's with a deadline. Some requests are cancelled mid-flight. The
// engine's prefix store is given a budget far below what the NPCs' prompts
// would fill, so it evicts throughout. It reports the store's bytes
// against its budget over time (their maximum must stay within it), the
// hit rate (prompt tokens reused, not computed), requests per second and
// evictions.

// soakConfig configures the workload; Duration 0 means no soak.
type soakConfig struct {
	Duration time.Duration
	Every    time.Duration // sampling interval of the report's series
	NPCs     int
	Clients  int     // concurrent callers
	Seqs     int     // the engine's MaxSeqs
	StoreMiB float64 // the prefix store's budget
	Cancel   float64 // share of requests cancelled after a random 0–100 ms
	Seed     uint64
}

func soakFlags(fs *flag.FlagSet) *soakConfig {
	c := &soakConfig{}
	fs.DurationVar(&c.Duration, "soak", 0, "run the randomized serving workload for this `long` instead of the figures (issue 4: -soak 10m)")
	fs.DurationVar(&c.Every, "soak-every", 10*time.Second, "with -soak: interval of the reported samples")
	fs.IntVar(&c.NPCs, "soak-npcs", 64, "with -soak: NPCs, each with a persona and a conversation")
	fs.IntVar(&c.Clients, "soak-clients", 24, "with -soak: concurrent callers")
	fs.IntVar(&c.Seqs, "soak-seqs", 8, "with -soak: sequences the engine decodes together (MaxSeqs)")
	fs.Float64Var(&c.StoreMiB, "soak-store", 64, "with -soak: the prefix store's budget, MiB (the engine's default)")
	fs.Float64Var(&c.Cancel, "soak-cancel", 0.1, "with -soak: share of requests cancelled after a random 0-100 ms")
	fs.Uint64Var(&c.Seed, "soak-seed", 1, "with -soak: random seed of the workload")
	return c
}

// soakResult is what -soak reports; the JSON names are for scripts.
type soakResult struct {
	Model   string  `json:"model"`
	Threads int     `json:"threads"`
	Seconds float64 `json:"seconds"`
	NPCs    int     `json:"npcs"`
	Clients int     `json:"clients"`
	MaxSeqs int     `json:"max_seqs"`

	Requests     int64            `json:"requests"` // answered, whatever their finish (not the overloaded)
	Finishes     map[string]int64 `json:"finishes"` // by finish, and "overloaded" for refused requests
	RequestsPerS float64          `json:"requests_per_s"`

	PromptTokens    int64   `json:"prompt_tokens"`
	ReusedTokens    int64   `json:"reused_tokens"`
	HitRate         float64 `json:"hit_rate"` // reused / prompt tokens
	GeneratedTokens int64   `json:"generated_tokens"`

	StoreBudget    int64 `json:"store_budget_bytes"`
	StoreBytesMax  int64 `json:"store_bytes_max"`
	StoreEvictions int64 `json:"store_evictions"`
	SlotBytes      int64 `json:"slot_bytes"` // the slots' KV, fixed once all are allocated
	SegmentBudget  int64 `json:"segment_cache_budget_bytes"`
	SegmentMax     int64 `json:"segment_cache_bytes_max"`
	HeapMax        int64 `json:"heap_inuse_bytes_max"`
	RSSMax         int64 `json:"rss_bytes_max"`

	Samples []soakSample `json:"samples"`
}

// soakSample is the state at T seconds and the rates since the previous
// sample.
type soakSample struct {
	T              float64 `json:"t_s"`
	StoreBytes     int64   `json:"store_bytes"`
	StoreEvictions int64   `json:"store_evictions"`
	HitRate        float64 `json:"hit_rate"` // of the requests started in the interval
	RequestsPerS   float64 `json:"requests_per_s"`
	HeapInuse      int64   `json:"heap_inuse_bytes"`
	RSS            int64   `json:"rss_bytes"`
}

// soakNPC is one NPC: its world, persona and conversation so far. An NPC
// thinks one thought at a time: busy is set while a caller runs its
// request.
type soakNPC struct {
	world   int
	persona string
	turns   []soakTurn
	busy    bool
}

type soakTurn struct{ line, reply string }

// soakWords make the players' lines and the stimuli.
var soakWords = strings.Fields(`the bridge wolves gate bread knife smith baker river road guard fire
	night coin sword harvest stranger brother storm market tavern ale rope boat
	lantern key north hills forest well tower bell you I we they saw need want
	sell buy fix find keep help fear trust hear where when why who is are was
	broken old new cold dark quiet late early again now`)

func soakSentence(r *rand.Rand) string {
	n := 4 + r.IntN(10)
	w := make([]string, n)
	for i := range w {
		w[i] = soakWords[r.IntN(len(soakWords))]
	}
	w[0] = strings.ToUpper(w[0][:1]) + w[0][1:]
	return strings.Join(w, " ") + [...]string{".", "?", "!"}[r.IntN(3)]
}

// runSoak runs the workload on m and writes its report.
func runSoak(ctx context.Context, m *model.Model, f *gguf.File, path string, threads int, cfg soakConfig, asJSON bool, stdout io.Writer) error {
	if cfg.NPCs < 1 || cfg.Clients < 1 || cfg.Seqs < 1 || cfg.StoreMiB <= 0 || cfg.Every <= 0 || cfg.Cancel < 0 || cfg.Cancel > 1 {
		return errors.New("-soak: want -soak-npcs, -soak-clients, -soak-seqs >= 1, -soak-store and -soak-every > 0, -soak-cancel in 0..1")
	}
	tok, _, err := benchTokenizer(f, m.Config.Vocab)
	if err != nil {
		return fmt.Errorf("soak: tokenizer: %w", err)
	}
	v, err := grammar.FromTokenizer(tok)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	g, err := grammar.Compile([]byte(benchSchema), v)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	// Sizes follow the model's context: the lore about a third of it, a
	// persona a tenth, and the conversation cut back to fit beside the
	// reply.
	ctxLen := m.Config.Context
	maxTokens := min(48, max(4, ctxLen/8))
	promptRoom := ctxLen - maxTokens - 8
	sb := &serveBench{m: m, tok: tok}
	lores := make([]string, 2) // two worlds, so that not every prompt shares its first block
	for i := range lores {
		if lores[i], err = sb.text(fmt.Sprintf("world%dlore", i), ctxLen*3/10); err != nil {
			return fmt.Errorf("soak: %w", err)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x736f616b)) // "soak"
	npcs := make([]*soakNPC, cfg.NPCs)
	for i := range npcs {
		p, err := sb.text(fmt.Sprintf("npc%dpersona", i), ctxLen/10)
		if err != nil {
			return fmt.Errorf("soak: %w", err)
		}
		npcs[i] = &soakNPC{world: rng.IntN(len(lores)), persona: p}
	}
	storeBytes := int64(cfg.StoreMiB * (1 << 20))
	e, err := engine.New(m, tok, engine.Options{MaxSeqs: cfg.Seqs, QueueSize: max(1, cfg.Clients/2), StoreBytes: storeBytes})
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	defer e.Close()

	var mu sync.Mutex // guards npcs' busy and turns, finishes and tokens
	finishes := map[string]int64{}
	var generated int64
	// pick marks a random idle NPC busy; nil when every NPC is busy.
	pick := func(r *rand.Rand) *soakNPC {
		mu.Lock()
		defer mu.Unlock()
		start := r.IntN(len(npcs))
		for i := range npcs {
			if n := npcs[(start+i)%len(npcs)]; !n.busy {
				n.busy = true
				return n
			}
		}
		return nil
	}
	control := func(s string) engine.Segment { return engine.Segment{Text: s, Special: true} }
	request := func(n *soakNPC, r *rand.Rand) (engine.Request, string) {
		segs := []engine.Segment{control("<|im_start|>system\n"), {Text: lores[n.world]}, {Text: "\n" + n.persona}, control("<|im_end|>\n")}
		for _, t := range n.turns {
			segs = append(segs, control("<|im_start|>user\n"), engine.Segment{Text: t.line}, control("<|im_end|>\n<|im_start|>assistant\n"), engine.Segment{Text: t.reply}, control("<|im_end|>\n"))
		}
		req := engine.Request{Grammar: g, StreamField: "say", MaxTokens: maxTokens,
			Sampling: engine.Sampling{Params: sample.Params{Temperature: 0.7, TopP: 0.9}, Seed: r.Uint64()}}
		var line string
		switch k := r.IntN(10); {
		case k < 3: // a player speaks: answered first, and within 2 s or not at all
			line = "Player: " + soakSentence(r)
			req.Priority, req.Deadline = 2, time.Now().Add(2*time.Second)
		case k < 6:
			line = "Event: " + soakSentence(r)
			req.Priority = 1
		default:
			line = "Thought: " + soakSentence(r)
		}
		segs = append(segs, control("<|im_start|>user\n"), engine.Segment{Text: line}, control("<|im_end|>\n<|im_start|>assistant\n"))
		req.Segments = segs
		return req, line
	}

	start := time.Now()
	stop := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for c := range cfg.Clients {
		wg.Add(1)
		// Each caller exits when the soak's time is up (or ctx is
		// cancelled), after its request in flight has ended.
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(c)+1))
			for ctx.Err() == nil && time.Now().Before(stop) {
				n := pick(r)
				if n == nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				req, line := request(n, r)
				rctx, cancel := ctx, context.CancelFunc(func() {})
				if r.Float64() < cfg.Cancel {
					rctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(100))*time.Millisecond)
				}
				res, err := e.Generate(rctx, req, nil)
				cancel()
				mu.Lock()
				n.busy = false
				switch {
				case errors.Is(err, engine.ErrOverloaded):
					finishes["overloaded"]++
				case err != nil && res.Stats.Finish == "":
					finishes["failed"]++
				default:
					finishes[string(res.Stats.Finish)]++
					generated += int64(res.Stats.GeneratedTokens)
				}
				if err == nil && (res.Stats.Finish == engine.FinishStop || res.Stats.Finish == engine.FinishLength) {
					n.turns = append(n.turns, soakTurn{line, res.Text})
					// The next prompt would not fit: keep the latest half
					// of the conversation, as a mind summarises.
					if res.Stats.PromptTokens+2*(res.Stats.GeneratedTokens+32) > promptRoom {
						n.turns = append(n.turns[:0], n.turns[len(n.turns)/2:]...)
					}
				}
				mu.Unlock()
				if errors.Is(err, engine.ErrOverloaded) {
					time.Sleep(100 * time.Millisecond) // as a game server would, rather than hammer
				}
			}
		}()
	}

	res := soakResult{Model: path, Threads: threads, NPCs: cfg.NPCs, Clients: cfg.Clients, MaxSeqs: cfg.Seqs,
		StoreBudget: storeBytes}
	var prev engine.CacheStats
	prevT := start
	var prevAnswered int64
	answered := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		n := int64(0)
		for k, v := range finishes {
			if k != "overloaded" {
				n += v
			}
		}
		return n
	}
	observe := func() engine.CacheStats {
		cs := e.CacheStats()
		res.StoreBytesMax = max(res.StoreBytesMax, cs.StoreBytes)
		res.SegmentMax = max(res.SegmentMax, cs.SegmentBytes)
		return cs
	}
	sampleNow := func(now time.Time) {
		cs := observe()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := soakSample{T: now.Sub(start).Seconds(), StoreBytes: cs.StoreBytes, StoreEvictions: cs.StoreEvictions,
			HeapInuse: int64(ms.HeapInuse), RSS: currentRSS()}
		if d := cs.PromptTokens - prev.PromptTokens; d > 0 {
			s.HitRate = float64(cs.ReusedTokens-prev.ReusedTokens) / float64(d)
		}
		a := answered()
		if dt := now.Sub(prevT).Seconds(); dt > 0 {
			s.RequestsPerS = float64(a-prevAnswered) / dt
		}
		res.HeapMax, res.RSSMax = max(res.HeapMax, s.HeapInuse), max(res.RSSMax, s.RSS)
		res.Samples = append(res.Samples, s)
		prev, prevT, prevAnswered = cs, now, a
	}
	// The store's bytes are watched every 100 ms for their maximum; the
	// report's samples are taken every cfg.Every.
	done := make(chan struct{})
	// Exits when every caller has exited.
	go func() { wg.Wait(); close(done) }()
	watch := time.NewTicker(100 * time.Millisecond)
	defer watch.Stop()
	nextSample := start.Add(cfg.Every)
loop:
	for {
		select {
		case <-done:
			break loop
		case now := <-watch.C:
			observe()
			if !now.Before(nextSample) {
				sampleNow(now)
				nextSample = nextSample.Add(cfg.Every)
			}
		}
	}
	end := time.Now()
	sampleNow(end)
	if err := ctx.Err(); err != nil {
		return err
	}
	cs := e.CacheStats()
	res.Seconds = end.Sub(start).Seconds()
	res.Finishes = finishes
	res.Requests = answered()
	res.RequestsPerS = float64(res.Requests) / res.Seconds
	res.PromptTokens, res.ReusedTokens, res.HitRate = cs.PromptTokens, cs.ReusedTokens, cs.HitRate()
	res.GeneratedTokens = generated
	res.StoreEvictions, res.SlotBytes, res.SegmentBudget = cs.StoreEvictions, cs.Bytes, cs.SegmentBudget
	if res.StoreBytesMax > res.StoreBudget {
		return fmt.Errorf("soak: the prefix store held %d bytes, over its budget of %d", res.StoreBytesMax, res.StoreBudget)
	}

	if asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "soak\t%s, %.0f s, %d threads: %d NPCs, %d callers, %d sequences at once\n", res.Model, res.Seconds, res.Threads, res.NPCs, res.Clients, res.MaxSeqs)
	fmt.Fprintf(w, "requests\t%d answered (%.1f/s); %s\n", res.Requests, res.RequestsPerS, formatFinishes(res.Finishes))
	fmt.Fprintf(w, "hit rate\t%.1f%%: %d of %d prompt tokens reused\n", 100*res.HitRate, res.ReusedTokens, res.PromptTokens)
	fmt.Fprintf(w, "generated\t%d tokens (%.1f/s)\n", res.GeneratedTokens, float64(res.GeneratedTokens)/res.Seconds)
	fmt.Fprintf(w, "prefix store\tat most %s of %s; %d blocks evicted\n", mib(res.StoreBytesMax), mib(res.StoreBudget), res.StoreEvictions)
	fmt.Fprintf(w, "token cache\tat most %s of %s\n", mib(res.SegmentMax), mib(res.SegmentBudget))
	fmt.Fprintf(w, "memory\tslots' KV %s; Go heap in use at most %s; RSS at most %s\n", mib(res.SlotBytes), mib(res.HeapMax), mib(res.RSSMax))
	fmt.Fprintf(w, "\n t (s)\tstore\tevictions\thit rate\trequests/s\theap\tRSS\n")
	for _, s := range res.Samples {
		fmt.Fprintf(w, "%6.0f\t%s\t%d\t%.1f%%\t%.1f\t%s\t%s\n", s.T, mib(s.StoreBytes), s.StoreEvictions, 100*s.HitRate, s.RequestsPerS, mib(s.HeapInuse), mib(s.RSS))
	}
	return w.Flush()
}

func formatFinishes(f map[string]int64) string {
	var parts []string
	for _, k := range []string{"stop", "length", "cancelled", "deadline", "error", "failed", "overloaded"} {
		if f[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, f[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// currentRSS is this process's resident set now, from /proc (0 where
// there is none).
func currentRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
