package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/anima-rt/anima/inference/sample"
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
