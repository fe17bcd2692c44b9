package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// runGenerate streams a completion of a prompt from a GGUF model to stdout,
// with timing on stderr.
func runGenerate(ctx context.Context, args []string) error {
	return generate(ctx, args, os.Stdout, os.Stderr)
}

func generate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	path := fs.String("m", "", "GGUF model `file` (required)")
	prompt := fs.String("p", "", "prompt text")
	idsFlag := fs.String("ids", "", "prompt as comma-separated token `ids` instead of -p (for models without a tokenizer)")
	n := fs.Int("n", 128, "most tokens to generate")
	temp := fs.Float64("temp", 0.8, "sampling temperature; 0 is greedy")
	topK := fs.Int("top-k", 40, "keep the K most likely tokens (0: off)")
	topP := fs.Float64("top-p", 0.95, "nucleus sampling threshold (1: off)")
	minP := fs.Float64("min-p", 0.05, "drop tokens below this fraction of the top probability (0: off)")
	repeat := fs.Float64("repeat-penalty", 1.0, "penalty for tokens in the last -repeat-last tokens (1: off)")
	repeatLast := fs.Int("repeat-last", 64, "tokens the repetition penalty looks back on")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same text")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	special := fs.Bool("special", false, "read control tokens written in -p (<|im_start|>, <|im_end|>) as those tokens, as the runtime's prompt segments are, instead of as plain text")
	chat := fs.Bool("chat", false, "wrap the prompt as a ChatML user turn and stop at the end of the assistant's")
	logprobs := fs.String("logprobs", "", "write a JSON `file` with the top-32 logprobs after every prompt token and the generated ids (the shape ../shared/reference/compare.py reads; use -temp 0)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: anima generate -m FILE (-p TEXT | -ids 1,2,3) [flags]\n\nStreams a completion to stdout; timings go to stderr.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || (*prompt == "") == (*idsFlag == "") {
		fs.Usage()
		return errors.New("want -m and exactly one of -p or -ids")
	}
	if *logprobs != "" && *temp != 0 {
		return errors.New("-logprobs records a greedy continuation: use it with -temp 0")
	}
	params := sample.Params{
		Temperature: float32(*temp), TopK: *topK, TopP: float32(*topP), MinP: float32(*minP),
		RepeatPenalty: float32(*repeat), RepeatWindow: *repeatLast,
	}
	sampler, err := sample.New(params, rand.New(rand.NewPCG(*seed, 0)))
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

	// The tokenizer is needed for -p and to print text; with -ids and a
	// file that has none, the generated ids are printed instead.
	tok, tokErr := tokenizer.New(f)
	var ids []int32
	switch {
	case *idsFlag != "":
		if ids, err = parseIDs(*idsFlag); err != nil {
			return err
		}
	case tokErr != nil:
		return fmt.Errorf("the model has no usable tokenizer (%v); pass token ids with -ids", tokErr)
	case *chat:
		if ids, err = tok.EncodeChatML([]tokenizer.Message{{Role: "user", Content: *prompt}}, true); err != nil {
			return err
		}
	default:
		ids = tok.Encode(*prompt)
		if *special {
			ids = tok.EncodeSpecial(*prompt)
		}
		if tok.AddBOS() {
			ids = append([]int32{tok.BOS()}, ids...)
		}
	}
	if len(ids) == 0 {
		return errors.New("the prompt is empty after tokenizing")
	}
	if *n < 0 {
		return fmt.Errorf("-n %d: want >= 0", *n)
	}

	st, err := m.NewState(len(ids)+*n, 0)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()

	start := time.Now()
	var logits []float32
	var dump *candidate
	if *logprobs != "" {
		all := make([]float32, len(ids)*m.Config.Vocab)
		if err := m.ForwardAll(st, ids, all); err != nil {
			return err
		}
		dump = newCandidate(ids, all, m.Config.Vocab)
		logits = all[(len(ids)-1)*m.Config.Vocab:]
	} else if logits, err = m.Forward(st, ids); err != nil {
		return err
	}
	prefill := time.Since(start)

	var dec *tokenizer.Decoder
	if tokErr == nil {
		dec = tok.NewDecoder()
	}
	history := slices.Clone(ids)
	var generated []int32
	start = time.Now()
	for len(generated) < *n {
		if err := ctx.Err(); err != nil {
			break
		}
		next, err := sampler.Sample(logits, history)
		if err != nil {
			return err
		}
		if tokErr == nil && tok.IsEOG(next) {
			break
		}
		generated = append(generated, next)
		history = append(history, next)
		if dec != nil {
			out.WriteString(dec.Add(next))
		} else {
			fmt.Fprintf(out, "%d ", next)
		}
		out.Flush() // stream: each token as soon as it is decoded
		if len(generated) == *n {
			break
		}
		if logits, err = m.Forward(st, []int32{next}); err != nil {
			return err
		}
	}
	if dec != nil {
		out.WriteString(dec.Flush())
	}
	out.WriteString("\n")
	out.Flush() // the text ends before the timing line on stderr
	decode := time.Since(start)

	fmt.Fprintf(stderr, "prompt %d tokens in %v (%.1f tok/s); generated %d tokens in %v (%.1f tok/s); %d threads, %s kernels\n",
		len(ids), prefill.Round(time.Millisecond), float64(len(ids))/prefill.Seconds(),
		len(generated), decode.Round(time.Millisecond), float64(len(generated))/decode.Seconds(),
		pool.Threads(), pool.Impl())
	if dump != nil {
		dump.Greedy = generated
		b, err := json.MarshalIndent(dump, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*logprobs, b, 0o644); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// parseIDs reads "1,2,3".
func parseIDs(s string) ([]int32, error) {
	var ids []int32
	for _, field := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(field), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("-ids: %q is not a token id", field)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}

// candidate is the JSON that ../shared/reference/compare.py compares with
// llama.cpp's reference: the top logprobs after each prompt token and a
// greedy continuation.
type candidate struct {
	PromptIDs []int32        `json:"prompt_ids"`
	Positions []candidatePos `json:"positions"`
	Greedy    []int32        `json:"greedy"`
}

type candidatePos struct {
	Pos   int          `json:"pos"`
	Top10 [][2]float64 `json:"top10"` // [id, logprob], best first; 32 of them, as compare.py recommends
}

func newCandidate(ids []int32, all []float32, vocab int) *candidate {
	c := &candidate{PromptIDs: ids}
	for p := range ids {
		logits := all[p*vocab : (p+1)*vocab]
		mx := math.Inf(-1)
		for _, v := range logits {
			mx = math.Max(mx, float64(v))
		}
		sum := 0.0
		for _, v := range logits {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		order := make([]int, vocab)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case logits[a] > logits[b]:
				return -1
			case logits[a] < logits[b]:
				return 1
			}
			return 0
		})
		pos := candidatePos{Pos: p}
		for _, id := range order[:min(32, vocab)] {
			pos.Top10 = append(pos.Top10, [2]float64{float64(id), float64(logits[id]) - lse})
		}
		c.Positions = append(c.Positions, pos)
	}
	return c
}
