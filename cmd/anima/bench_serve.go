package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// serveResult are the serving figures of anima bench (issue 4): time to
// first token of a 1,000-token prompt cold and with its first 950 tokens
// cached, the engine's decode rate with 1, 8, 32 and 64 concurrent
// sequences, and the decode rate with the NPC decision grammar relative to
// free decoding.
type serveResult struct {
	TTFTColdMs         float64            `json:"ttft_cold_ms"`
	TTFTWarmMs         float64            `json:"ttft_warm_ms"`
	BatchDecodeTokS    map[string]float64 `json:"batch_decode_tok_s"`
	GrammarDecodeRatio float64            `json:"grammar_decode_ratio"`
	GrammarDecodeTokS  float64            `json:"grammar_decode_tok_s"`
	FreeDecodeTokS     float64            `json:"free_decode_tok_s"`
	StandInVocab       bool               `json:"stand_in_vocab,omitempty"`
}

// errNoServingVocab: the serving figures need text, hence a tokenizer.
var errNoServingVocab = errors.New("no vocabulary for the serving figures")

// benchSchema is shaped like an NPC decision: enums first, a nested
// object, then the free say string.
const benchSchema = `{"type":"object","properties":{
	"emotion":{"enum":["calm","wary","angry","afraid"]},
	"action":{"type":"object","properties":{
		"name":{"enum":["idle","follow","flee","give","trade","attack"]},
		"target":{"type":"string","maxLength":12}},
		"required":["name","target"],"additionalProperties":false},
	"say":{"type":"string","maxLength":80}},
	"required":["emotion","action","say"],"additionalProperties":false}`

// serveBench holds what the serving measurements share.
type serveBench struct {
	m    *model.Model
	tok  *tokenizer.Tokenizer
	reps int
}

// benchTokenizer returns the file's tokenizer or, for a random benchmark
// model without one, a stand-in byte-level vocabulary of the model's size
// (256 byte tokens, unused fillers, ChatML controls): prompts then cost one
// token per byte, which is all the engine's figures need.
func benchTokenizer(f *gguf.File, vocab int) (*tokenizer.Tokenizer, bool, error) {
	if f.Has(tokenizer.KeyTokens) {
		tok, err := tokenizer.New(f)
		return tok, false, err
	}
	tr := tokenizer.NewBPETrainer()
	tr.Add("a")
	v, err := tr.Train(259, 1<<30) // the byte tokens and the control tokens, no merges
	if err != nil {
		return nil, false, err
	}
	if vocab < len(v.Tokens) {
		return nil, false, fmt.Errorf("%w: the file has no tokenizer and %d tokens are too few for a byte-level stand-in", errNoServingVocab, vocab)
	}
	nb := len(v.Tokens) - 3 // the byte tokens, before the three controls
	fill := vocab - len(v.Tokens)
	toks := slices.Clone(v.Tokens[:nb])
	types := slices.Clone(v.Types[:nb])
	for i := range fill {
		toks = append(toks, fmt.Sprintf("<unused%d>", i))
		types = append(types, tokenizer.TypeUnused)
	}
	toks = append(toks, v.Tokens[nb:]...)
	types = append(types, v.Types[nb:]...)
	v.Tokens, v.Types = toks, types
	v.BOS, v.EOS, v.Pad = v.BOS+int32(fill), v.EOS+int32(fill), v.Pad+int32(fill)
	w := gguf.NewWriter()
	w.Set("general.architecture", "stand-in")
	for _, kv := range v.KVs() {
		w.Set(kv.Key, kv.Value)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, false, err
	}
	vf, err := gguf.Parse(buf.Bytes())
	if err != nil {
		return nil, false, err
	}
	tok, err := tokenizer.New(vf)
	return tok, true, err
}

// text returns plain text that tok encodes to exactly n tokens, made of
// numbered words after tag, so texts with different tags differ from
// their first token.
func (sb *serveBench) text(tag string, n int) (string, error) {
	var b strings.Builder
	for i := 0; ; i++ {
		next := b.String() + fmt.Sprintf(" %s%d", tag, i%97)
		switch got := len(sb.tok.Encode(next)); {
		case got == n:
			return next, nil
		case got > n:
			// Pad one token at a time: " a" is one token in BPE
			// vocabularies, "a" in byte-level ones.
			for have := len(sb.tok.Encode(b.String())); have < n; have++ {
				switch {
				case len(sb.tok.Encode(b.String()+" a")) == have+1:
					b.WriteString(" a")
				case len(sb.tok.Encode(b.String()+"a")) == have+1:
					b.WriteString("a")
				default:
					return "", fmt.Errorf("could not build a %d-token text", n)
				}
			}
			return b.String(), nil
		}
		b.Reset()
		b.WriteString(next)
	}
}

// engine starts an engine without a prefix store: each figure's reuse
// comes from the slots, as the figure describes.
func (sb *serveBench) engine(opt engine.Options) (*engine.Engine, error) {
	opt.StoreBytes = -1
	return engine.New(sb.m, sb.tok, opt)
}

// ttft measures the time to the first token of 1,000-token prompts, cold
// (every prompt new from its first token) and warm (the first 950 tokens
// were the previous request's), as medians of reps requests each.
func (sb *serveBench) ttft(ctx context.Context, batch int) (cold, warm float64, err error) {
	e, err := sb.engine(engine.Options{Context: 1100, Batch: batch, MaxSeqs: 1})
	if err != nil {
		return 0, 0, err
	}
	defer e.Close()
	shared, err := sb.text("lore", 950)
	if err != nil {
		return 0, 0, err
	}
	one := func(prefix, suffix string) (float64, error) {
		res, err := e.Generate(ctx, engine.Request{Segments: []engine.Segment{{Text: prefix}, {Text: suffix}}, MaxTokens: 1}, nil)
		if err != nil {
			return 0, err
		}
		if want := 1000 + btoi(sb.tok.AddBOS()); res.Stats.PromptTokens != want {
			return 0, fmt.Errorf("prompt of %d tokens; want %d", res.Stats.PromptTokens, want)
		}
		return float64(res.Stats.TTFT.Microseconds()) / 1000, nil
	}
	var colds, warms []float64
	for i := range sb.reps + 1 { // the first of each is a warm-up
		p, err := sb.text(fmt.Sprintf("c%dx", i), 950)
		if err != nil {
			return 0, 0, err
		}
		s, err := sb.text(fmt.Sprintf("q%dx", i), 50)
		if err != nil {
			return 0, 0, err
		}
		c, err := one(p, s)
		if err != nil {
			return 0, 0, err
		}
		s1, err := sb.text(fmt.Sprintf("v%dx", i), 50)
		if err != nil {
			return 0, 0, err
		}
		if _, err := one(shared, s1); err != nil { // puts the shared 950 tokens in the cache
			return 0, 0, err
		}
		s2, err := sb.text(fmt.Sprintf("w%dx", i), 50)
		if err != nil {
			return 0, 0, err
		}
		w, err := one(shared, s2)
		if err != nil {
			return 0, 0, err
		}
		if i > 0 {
			colds, warms = append(colds, c), append(warms, w)
		}
	}
	return median(colds), median(warms), nil
}

// batchWindow is how long batchDecode keeps c requests in flight; the
// first fifth warms up (prompts prefilled, slots filled) and is not
// counted.
const batchWindow = 2 * time.Second

// batchDecode returns the engine's aggregate decode rate with c requests
// always in flight: c workers each submit a request (a 32-token prompt, 16
// tokens shared by all, 16 its own, rep keeping them new; n tokens decoded
// greedily) and submit the next as soon as it ends, for batchWindow. It
// counts the tokens streamed after the warm-up, per second. A closed loop
// keeps the concurrency at c even when a trained model ends its replies
// early at <|im_end|>, where timing one batch of c from start to finish
// would count a tail of fewer and fewer sequences.
func (sb *serveBench) batchDecode(ctx context.Context, e *engine.Engine, c, n, rep int) (float64, error) {
	head, err := sb.text("npc", 16)
	if err != nil {
		return 0, err
	}
	reqs := make([]engine.Request, c)
	for i := range reqs {
		own, err := sb.text(fmt.Sprintf("r%di%dx", rep, i), 16)
		if err != nil {
			return 0, err
		}
		reqs[i] = engine.Request{Segments: []engine.Segment{{Text: head}, {Text: own}}, MaxTokens: n}
	}
	start := time.Now()
	from, to := start.Add(batchWindow/5), start.Add(batchWindow)
	ctx, cancel := context.WithDeadline(ctx, to)
	defer cancel()
	var counted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	for _, r := range reqs {
		wg.Add(1)
		// Exits at the window's end.
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, err := e.Generate(ctx, r, func(ev engine.Event) {
					if now := time.Now(); now.After(from) && now.Before(to) {
						counted.Add(int64(len(ev.Tokens)))
					}
				})
				if err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	if counted.Load() == 0 {
		return 0, fmt.Errorf("the %d requests decoded no tokens in %v", c, batchWindow)
	}
	return float64(counted.Load()) / to.Sub(from).Seconds(), nil
}

// grammarRatio decodes NPC decisions with the decision grammar and the
// same requests without it, one at a time, sampling at temperature 1, and
// returns both mean decode rates (forced tokens count as generated, as
// the engine counts them).
func (sb *serveBench) grammarRatio(ctx context.Context) (free, constrained float64, err error) {
	v, err := grammar.FromTokenizer(sb.tok)
	if err != nil {
		return 0, 0, err
	}
	g, err := grammar.Compile([]byte(benchSchema), v)
	if err != nil {
		return 0, 0, err
	}
	e, err := sb.engine(engine.Options{Context: 512, MaxSeqs: 1})
	if err != nil {
		return 0, 0, err
	}
	defer e.Close()
	prompt, err := sb.text("persona", 200)
	if err != nil {
		return 0, 0, err
	}
	var rates [2][]float64
	for i := range 4 * sb.reps {
		for k, withGrammar := range []bool{false, true} {
			req := engine.Request{Segments: []engine.Segment{{Text: prompt}}, MaxTokens: 64,
				Sampling: engine.Sampling{Params: sample.Params{Temperature: 1, TopK: 40}, Seed: uint64(i)}}
			if withGrammar {
				req.Grammar, req.StreamField = g, "say"
			}
			res, err := e.Generate(ctx, req, nil)
			if err != nil {
				return 0, 0, err
			}
			if res.Stats.DecodeTokS > 0 {
				rates[k] = append(rates[k], res.Stats.DecodeTokS)
			}
		}
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(max(len(x), 1))
	}
	return mean(rates[0]), mean(rates[1]), nil
}

// parseConcurrency reads a list like "1,8,32,64".
func parseConcurrency(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("-concurrency %q: want a list of counts 1..4096", s)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-concurrency is empty")
	}
	return out, nil
}

// serveFigures measures every serving figure.
func serveFigures(ctx context.Context, m *model.Model, f *gguf.File, reps, batch, decode int, conc []int) (*serveResult, error) {
	tok, standIn, err := benchTokenizer(f, m.Config.Vocab)
	if err != nil {
		return nil, fmt.Errorf("serving figures: tokenizer: %w", err)
	}
	sb := &serveBench{m: m, tok: tok, reps: reps}
	res := &serveResult{BatchDecodeTokS: map[string]float64{}, StandInVocab: standIn}
	if res.TTFTColdMs, res.TTFTWarmMs, err = sb.ttft(ctx, batch); err != nil {
		return nil, fmt.Errorf("serving figures: TTFT: %w", err)
	}
	// One engine per concurrency, measured in turn rep by rep, so that a
	// change in the machine's load mid-run moves every figure alike.
	engines := make([]*engine.Engine, len(conc))
	for i, c := range conc {
		if engines[i], err = sb.engine(engine.Options{Context: 64 + decode, MaxSeqs: c, QueueSize: c}); err != nil {
			return nil, fmt.Errorf("serving figures: %d concurrent: %w", c, err)
		}
		defer engines[i].Close()
	}
	rates := make([][]float64, len(conc))
	for rep := range reps {
		for i, c := range conc {
			r, err := sb.batchDecode(ctx, engines[i], c, decode, rep)
			if err != nil {
				return nil, fmt.Errorf("serving figures: %d concurrent: %w", c, err)
			}
			rates[i] = append(rates[i], r)
		}
	}
	for i, c := range conc {
		res.BatchDecodeTokS[strconv.Itoa(c)] = median(rates[i])
	}
	if res.FreeDecodeTokS, res.GrammarDecodeTokS, err = sb.grammarRatio(ctx); err != nil {
		return nil, fmt.Errorf("serving figures: grammar: %w", err)
	}
	if res.FreeDecodeTokS > 0 {
		res.GrammarDecodeRatio = res.GrammarDecodeTokS / res.FreeDecodeTokS
	}
	return res, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
