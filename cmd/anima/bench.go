package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tensor"
)

// benchResult is what anima bench reports; the JSON names are a contract
// with scripts that collect figures.
type benchResult struct {
	Model         string  `json:"model"`
	Arch          string  `json:"arch"`
	FileBytes     int64   `json:"file_bytes"`
	ParamsTotal   int64   `json:"params_total"`
	Threads       int     `json:"threads"`
	Kernels       string  `json:"kernels"`
	Reps          int     `json:"reps"`
	PrefillTokens int     `json:"prefill_tokens"`
	DecodeTokens  int     `json:"decode_tokens"`
	Ctx           int     `json:"ctx"`
	PrefillTokS   float64 `json:"prefill_tok_s"`
	DecodeTokS    float64 `json:"decode_tok_s"`
	DecodeCtxTokS float64 `json:"decode_after_ctx_tok_s"`
	KVCacheBytes  int64   `json:"kv_cache_bytes"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`

	*serveResult // the serving figures; absent with -serve=false
}

// runBench measures prefill and decode speed of a GGUF model, the way
// llama-bench does (pp512, tg128, tg128 at depth 1024), and reports the
// median of -reps runs. With -make it instead writes one of the random
// benchmark models.
func runBench(ctx context.Context, args []string) error {
	return bench(ctx, args, os.Stdout)
}

func bench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	path := fs.String("m", "", "GGUF model `file` to measure")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	prefill := fs.Int("prefill", 512, "prompt tokens for the prefill figure")
	decode := fs.Int("decode", 128, "tokens decoded for each decode figure")
	ctxLen := fs.Int("ctx", 1024, "cached tokens before the second decode figure (0: skip it)")
	batch := fs.Int("batch", 512, "most prompt tokens one prefill chunk processes")
	reps := fs.Int("reps", 3, "repetitions; the median is reported")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	make_ := fs.String("make", "", "write the random benchmark model `shape` (tiny, small, medium) to -o and exit")
	typ := fs.String("type", "f32", "with -make: tensor type (f32, f16, bf16, q8_0)")
	outPath := fs.String("o", "", "with -make: output `file`")
	seed := fs.Uint64("seed", 1, "with -make: random seed")
	serve := fs.Bool("serve", true, "also measure the serving engine: TTFT cold and warm, batched decode, grammar cost")
	concurrency := fs.String("concurrency", "1,8,32,64", "with -serve: concurrent sequences of the batched decode figures")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements to this `file` (go tool pprof)")
	soak := soakFlags(fs) // bench_soak.go
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: anima bench -m FILE [flags]\n       anima bench -m FILE -soak 10m [-soak-... flags] [-json]\n       anima bench -make tiny|small|medium -type f32|q8_0 -o FILE\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *make_ != "" {
		return makeBenchModel(stdout, *make_, *typ, *outPath, *seed)
	}
	if *path == "" {
		fs.Usage()
		return errors.New("want -m FILE or -make SHAPE")
	}
	if *prefill < 1 || *decode < 1 || *ctxLen < 0 || *reps < 1 {
		return errors.New("-prefill, -decode and -reps must be >= 1, -ctx >= 0")
	}
	conc, err := parseConcurrency(*concurrency)
	if err != nil {
		return err
	}

	f, err := gguf.Open(*path)
	if err != nil {
		return err
	}
	defer f.Close()
	pool := kernels.NewPool(*threads)
	defer pool.Close()
	m, err := model.Load(f, pool)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if soak.Duration < 0 {
		return fmt.Errorf("-soak %v: want a duration > 0 (or none, for the speed figures)", soak.Duration)
	}
	if soak.Duration > 0 {
		return runSoak(ctx, m, f, *path, pool.Threads(), *soak, *asJSON, stdout)
	}
	c := m.Config
	if c.Vocab < 2 {
		return errors.New("vocabulary too small to benchmark")
	}
	capacity := max(*prefill, *ctxLen) + *decode
	st, err := m.NewState(capacity, *batch)
	if err != nil {
		return err
	}
	// Fixed, spread-out token ids: random weights make every id alike.
	prompt := make([]int32, max(*prefill, *ctxLen))
	for i := range prompt {
		prompt[i] = int32((i*7919 + 13) % c.Vocab)
	}

	res := benchResult{
		Model: *path, Arch: c.Arch, FileBytes: f.Size(), Threads: pool.Threads(), Kernels: pool.Impl(),
		Reps: *reps, PrefillTokens: *prefill, DecodeTokens: *decode, Ctx: *ctxLen,
		KVCacheBytes: st.Cache.Bytes(),
	}
	for _, t := range f.Tensors() {
		res.ParamsTotal += int64((&tensor.Tensor{Shape: t.Shape}).Elements())
	}

	// Warm up: touch every weight page and the scratch once.
	if _, err := m.Forward(st, prompt[:min(len(prompt), 64)]); err != nil {
		return err
	}
	var pre, dec, decCtx []float64
	for range *reps {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.Reset()
		t0 := time.Now()
		if _, err := m.Forward(st, prompt[:*prefill]); err != nil {
			return err
		}
		pre = append(pre, float64(*prefill)/time.Since(t0).Seconds())

		st.Reset()
		r, err := decodeRate(m, st, *decode)
		if err != nil {
			return err
		}
		dec = append(dec, r)

		if *ctxLen > 0 {
			st.Reset()
			if _, err := m.Forward(st, prompt[:*ctxLen]); err != nil {
				return err
			}
			r, err := decodeRate(m, st, *decode)
			if err != nil {
				return err
			}
			decCtx = append(decCtx, r)
		}
	}
	res.PrefillTokS, res.DecodeTokS, res.DecodeCtxTokS = median(pre), median(dec), median(decCtx)
	res.PeakRSSBytes = peakRSS() // the decoder's, before the serving engines add their caches
	var serveSkipped error
	if *serve {
		res.serveResult, err = serveFigures(ctx, m, f, *reps, *batch, *decode, conc)
		switch {
		case errors.Is(err, errNoServingVocab):
			serveSkipped = err // a toy model: report the rest
		case err != nil:
			return err
		}
	}

	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "model\t%s (%s, %.1f M params, %.1f MiB)\n", res.Model, res.Arch, float64(res.ParamsTotal)/1e6, float64(res.FileBytes)/(1<<20))
	fmt.Fprintf(w, "threads\t%d (%s kernels)\n", res.Threads, res.Kernels)
	fmt.Fprintf(w, "prefill (%d tokens)\t%.1f tok/s\n", *prefill, res.PrefillTokS)
	fmt.Fprintf(w, "decode (%d tokens)\t%.1f tok/s\n", *decode, res.DecodeTokS)
	if *ctxLen > 0 {
		fmt.Fprintf(w, "decode after %d cached tokens\t%.1f tok/s\n", *ctxLen, res.DecodeCtxTokS)
	}
	fmt.Fprintf(w, "KV cache\t%.1f MiB\n", float64(res.KVCacheBytes)/(1<<20))
	if serveSkipped != nil {
		fmt.Fprintf(w, "serving\tskipped: %v\n", serveSkipped)
	}
	if s := res.serveResult; s != nil {
		fmt.Fprintf(w, "serving: TTFT, 1,000-token prompt\t%.1f ms cold, %.1f ms with 950 tokens cached (%.1f%%)\n", s.TTFTColdMs, s.TTFTWarmMs, 100*s.TTFTWarmMs/s.TTFTColdMs)
		for _, c := range conc {
			r := s.BatchDecodeTokS[strconv.Itoa(c)]
			fmt.Fprintf(w, "serving: decode, %d concurrent\t%.1f tok/s (%.2f× one)\n", c, r, r/s.BatchDecodeTokS[strconv.Itoa(conc[0])])
		}
		fmt.Fprintf(w, "serving: decode with the decision grammar\t%.1f tok/s, %.1f%% of free (%.1f tok/s)\n", s.GrammarDecodeTokS, 100*s.GrammarDecodeRatio, s.FreeDecodeTokS)
		if s.StandInVocab {
			fmt.Fprintf(w, "\t(the file has no tokenizer: a stand-in byte-level vocabulary)\n")
		}
	}
	fmt.Fprintf(w, "peak RSS\t%.1f MiB\n", float64(res.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(w, "(median of %d runs)\t\n", res.Reps)
	return w.Flush()
}

// decodeRate decodes n tokens one at a time from st's position, feeding
// back the argmax, and returns tokens per second.
func decodeRate(m *model.Model, st *model.State, n int) (float64, error) {
	next := []int32{1}
	t0 := time.Now()
	for range n {
		logits, err := m.Forward(st, next)
		if err != nil {
			return 0, err
		}
		next[0] = argmax(logits)
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// peakRSS reads the resident-set high-water mark (VmHWM) of this process
// from /proc/self/status; 0 where that file does not exist.
func peakRSS() int64 {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest) // "12345 kB"
			if len(fields) == 2 && fields[1] == "kB" {
				kb, err := strconv.ParseInt(fields[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// benchTypes are the tensor types -make accepts; logically constant.
var benchTypes = map[string]tensor.Type{"f32": tensor.F32, "f16": tensor.F16, "bf16": tensor.BF16, "q8_0": tensor.Q8_0}

// makeBenchModel writes the random-weight model of the speed table.
func makeBenchModel(stdout io.Writer, shape, typ, out string, seed uint64) error {
	spec, ok := model.BenchSpecs[shape]
	if !ok {
		return fmt.Errorf("-make %q: want tiny, small or medium", shape)
	}
	t, ok := benchTypes[strings.ToLower(typ)]
	if !ok {
		return fmt.Errorf("-type %q: want f32, f16, bf16 or q8_0", typ)
	}
	if out == "" {
		return errors.New("-make needs -o FILE")
	}
	w, err := model.RandomWriter(spec, t, seed)
	if err != nil {
		return err
	}
	if err := w.WriteFile(out); err != nil {
		return err
	}
	total, active := spec.Params()
	fmt.Fprintf(stdout, "wrote %s: %s %s, %.1f M params (%.1f M active)\n", out, shape, t, float64(total)/1e6, float64(active)/1e6)
	return nil
}
