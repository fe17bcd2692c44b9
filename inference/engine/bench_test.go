package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// benchText returns plain text that the tokenizer encodes to exactly n
// tokens, made of numbered words so that texts with different tags differ
// from their first token.
func benchText(b *testing.B, fx *fixture, tag string, n int) string {
	b.Helper()
	var sb strings.Builder
	for i := 0; ; i++ {
		next := sb.String() + fmt.Sprintf(" %s%d", tag, i%97)
		switch got := len(fx.tok.Encode(next)); {
		case got == n:
			return next
		case got > n:
			// Pad with single-token words until exactly n.
			for len(fx.tok.Encode(sb.String())) < n {
				sb.WriteString(" a")
			}
			if len(fx.tok.Encode(sb.String())) != n {
				b.Fatalf("could not build a %d-token text", n)
			}
			return sb.String()
		}
		sb.Reset()
		sb.WriteString(next)
	}
}

// BenchmarkTTFT is the time to the first token of a 1,000-token prompt:
// cold (nothing cached: every iteration's prompt differs from its first
// token) and warm (the first 950 tokens were seen by the previous request;
// only the last 50 differ). MaxTokens 1, so TTFT is prefill plus one sample.
func BenchmarkTTFT(b *testing.B) {
	fx := loadFixture(b)
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			e := fx.engine(b, Options{Context: 1100, Batch: 512})
			shared := benchText(b, fx, "lore", 950)
			var suffixes []string
			for i := range 4 {
				suffixes = append(suffixes, benchText(b, fx, fmt.Sprintf("q%c", 'a'+i), 50))
			}
			var prefixes []string
			if !warm {
				for i := range 4 {
					prefixes = append(prefixes, benchText(b, fx, fmt.Sprintf("l%c", 'a'+i), 950))
				}
			}
			if warm { // the shared prefix is in the cache before timing starts
				if _, err := e.Generate(context.Background(), Request{Segments: []Segment{{Text: shared}, {Text: suffixes[3]}}, MaxTokens: 1}, nil); err != nil {
					b.Fatal(err)
				}
			}
			var total, reused float64
			for i := 0; b.Loop(); i++ {
				prefix := shared
				if !warm {
					prefix = prefixes[i%len(prefixes)]
				}
				req := Request{Segments: []Segment{{Text: prefix}, {Text: suffixes[i%len(suffixes)]}}, MaxTokens: 1}
				res, err := e.Generate(context.Background(), req, nil)
				if err != nil {
					b.Fatal(err)
				}
				if res.Stats.PromptTokens != 1000 {
					b.Fatalf("prompt of %d tokens; want 1000", res.Stats.PromptTokens)
				}
				total += float64(res.Stats.TTFT.Microseconds()) / 1000
				reused += float64(res.Stats.ReusedTokens)
			}
			b.ReportMetric(total/float64(b.N), "ttft_ms")
			b.ReportMetric(reused/float64(b.N), "reused_tokens")
		})
	}
}

// BenchmarkDecode is the decode rate after the first token, free and with
// the NPC decision grammar (whose forced scaffolding runs count as generated
// tokens, fed to the model as one chunk each), on the same prompt, sampling
// at temperature 1 with a fixed seed per iteration.
func BenchmarkDecode(b *testing.B) {
	fx := loadFixture(b)
	g := fx.grammar(b)
	for _, constrained := range []bool{false, true} {
		name := "free"
		if constrained {
			name = "grammar"
		}
		b.Run(name, func(b *testing.B) {
			e := fx.engine(b, Options{})
			var rate, toks float64
			for i := 0; b.Loop(); i++ {
				req := Request{Segments: segments("Is the bridge safe?"), MaxTokens: 48,
					Sampling: Sampling{Params: sample.Params{Temperature: 1, TopK: 40}, Seed: uint64(i)}}
				if constrained {
					req.Grammar, req.StreamField = g, "say"
				}
				res, err := e.Generate(context.Background(), req, nil)
				if err != nil {
					b.Fatal(err)
				}
				rate += res.Stats.DecodeTokS
				toks += float64(res.Stats.GeneratedTokens)
			}
			b.ReportMetric(rate/float64(b.N), "tok/s")
			b.ReportMetric(toks/float64(b.N), "tokens")
		})
	}
}

// BenchmarkBatchDecode is the engine's aggregate decode rate with n
// sequences in flight: n requests of 48 tokens each, started together on
// the same prompt with different seeds, counting every generated token
// over the wall time of the whole batch (prefill included).
func BenchmarkBatchDecode(b *testing.B) {
	fx := loadFixture(b)
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("seqs=%d", n), func(b *testing.B) {
			e := fx.engine(b, Options{MaxSeqs: n, QueueSize: n})
			toks := 0
			for i := 0; b.Loop(); i++ {
				var wg sync.WaitGroup
				var mu sync.Mutex
				for s := range n {
					wg.Add(1)
					// Exits when its request has finished.
					go func() {
						defer wg.Done()
						req := Request{Segments: segments("Is the bridge safe?"), MaxTokens: 48,
							Sampling: Sampling{Params: sample.Params{Temperature: 1, TopK: 40}, Seed: uint64(i*n + s)}}
						res, err := e.Generate(context.Background(), req, nil)
						if err != nil {
							b.Error(err)
						}
						mu.Lock()
						toks += res.Stats.GeneratedTokens
						mu.Unlock()
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(toks)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkSharedLore starts 32 NPC requests together on one 900-token
// lore, each with 50 tokens of its own and 8 to generate: the lore is
// computed once and copied, so the batch costs about one lore plus the 32
// endings. Reports the wall time of the batch and the share of prompt
// tokens reused.
func BenchmarkSharedLore(b *testing.B) {
	fx := loadFixture(b)
	const n = 32
	lore := benchText(b, fx, "lore", 900)
	own := make([]string, n)
	for i := range own {
		own[i] = benchText(b, fx, fmt.Sprintf("npc%c%c", 'a'+i%26, 'a'+i/26), 50)
	}
	var reused, prompt float64
	for b.Loop() {
		e := fx.engine(b, Options{MaxSeqs: n, QueueSize: n, Context: 1024, StoreBytes: -1})
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range n {
			wg.Add(1)
			// Exits when its request has finished.
			go func() {
				defer wg.Done()
				res, err := e.Generate(context.Background(), Request{Segments: []Segment{{Text: lore}, {Text: own[i]}}, MaxTokens: 8}, nil)
				if err != nil {
					b.Error(err)
				}
				mu.Lock()
				reused += float64(res.Stats.ReusedTokens)
				prompt += float64(res.Stats.PromptTokens)
				mu.Unlock()
			}()
		}
		wg.Wait()
		e.Close()
	}
	b.ReportMetric(reused/prompt, "reused/prompt")
}

// embeddedFixture loads the embedded default model (assets/model), skipping
// when the binary was built without it.
func embeddedFixture(b *testing.B) *fixture {
	b.Helper()
	data, err := assets.Model()
	if errors.Is(err, assets.ErrNoModel) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	pool := kernels.NewPool(0)
	b.Cleanup(pool.Close)
	m, err := model.Load(f, pool)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		b.Fatal(err)
	}
	return &fixture{m: m, tok: tok, pool: pool}
}

// BenchmarkSharedAttention is 32 NPCs decoding together over one
// 600-token lore, each with 100 prompt tokens of its own and up to 64 to
// generate (sampled at temperature 1.5, top 40, with fixed seeds, so that the
// embedded model, trained on short answers, runs longer), with the lore's
// keys and values read once per step for all of them (shared=on, the
// default SharedRun) and by each sequence on its own (shared=off), on the
// embedded model and the reference model. decode_tok/s counts only the
// steps in which at least 16 sequences decode one token each and nothing
// prefills (the embedded model's answers end before the last prompts have
// prefilled): their tokens over the time from the previous step's end to
// the step's end, sampling included; decode_seqs is their mean width.
// shared_pos/step is the positions a step read once for several
// sequences instead of once each.
func BenchmarkSharedAttention(b *testing.B) {
	const n = 32
	for _, mdl := range []string{"embedded", "reference"} {
		b.Run("model="+mdl, func(b *testing.B) {
			var fx *fixture
			if mdl == "embedded" {
				fx = embeddedFixture(b)
			} else {
				fx = loadFixture(b)
			}
			lore := benchText(b, fx, "lore", 600)
			own := make([]string, n)
			for i := range own {
				own[i] = benchText(b, fx, fmt.Sprintf("npc%c%c", 'a'+i%26, 'a'+i/26), 100)
			}
			for _, shared := range []bool{false, true} {
				name, run := "shared=off", -1
				if shared {
					name, run = "shared=on", 0
				}
				b.Run(name, func(b *testing.B) {
					var decodeToks, decodeSecs, decodeSteps, gen float64
					var last time.Time
					hk := hooks{onStep: func(seqs, toks int) { // the scheduler goroutine's alone
						now := time.Now()
						if seqs >= n/2 && toks == seqs && !last.IsZero() {
							decodeToks += float64(seqs)
							decodeSecs += now.Sub(last).Seconds()
							decodeSteps++
						}
						last = now
					}}
					var sharedPos, sharedSteps int64
					for it := 0; b.Loop(); it++ {
						b.StopTimer() // the engine's slots are allocated outside the timing
						e := fx.engineHooks(b, Options{MaxSeqs: n, QueueSize: n, Context: 1024, StoreBytes: -1, SharedRun: run}, hk)
						last = time.Time{}
						b.StartTimer()
						var wg sync.WaitGroup
						var mu sync.Mutex
						for i := range n {
							wg.Add(1)
							// Exits when its request has finished.
							go func() {
								defer wg.Done()
								req := Request{Segments: []Segment{{Text: lore}, {Text: own[i]}}, MaxTokens: 64,
									Sampling: Sampling{Params: sample.Params{Temperature: 1.5, TopK: 40}, Seed: uint64(it*n + i)}}
								res, err := e.Generate(context.Background(), req, nil)
								if err != nil {
									b.Error(err)
								}
								mu.Lock()
								gen += float64(res.Stats.GeneratedTokens)
								mu.Unlock()
							}()
						}
						wg.Wait()
						b.StopTimer()
						e.Close() // its scheduler has exited: the hook's figures are ours
						cs := e.CacheStats()
						sharedPos += cs.SharedPositions
						sharedSteps += cs.SharedSteps
						b.StartTimer()
					}
					if decodeSecs > 0 {
						b.ReportMetric(decodeToks/decodeSecs, "decode_tok/s")
						b.ReportMetric(decodeToks/decodeSteps, "decode_seqs")
					}
					b.ReportMetric(gen/float64(b.N)/n, "tokens/seq")
					if sharedSteps > 0 {
						b.ReportMetric(float64(sharedPos)/float64(sharedSteps), "shared_pos/step")
					}
				})
			}
		})
	}
}
