package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anima-rt/anima/corpus"
	"github.com/anima-rt/anima/corpus/eval"
	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tokenizer"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc/catalog"
)

func runEval(ctx context.Context, args []string) error {
	return evaluate(ctx, args, os.Stdout, os.Stderr)
}

func evaluate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("m", "", "GGUF model `file` (default: the embedded model)")
	n := fs.Int("n", 200, "held-out examples to evaluate")
	seed := fs.Uint64("seed", 1, "corpus seed of the held-out split")
	start := fs.Int("start", 0, "index of the first held-out example")
	samples := fs.Int("samples", 0, "also print this many random examples' outputs per language")
	showKinds := fs.String("show-kind", "", "also print the outputs of every example of these situation `kinds` (comma-separated, e.g. injection,ask_place): why a kind fails")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	byKind := fs.Bool("by-kind", false, "also print the scores of each situation kind (the JSON always has them, as by_kind)")
	report := fs.String("report", "", "also write the JSON object to this `file`")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	maxTokens := fs.Int("max-tokens", 160, "most tokens generated per decision")
	split := fs.String("split", "heldout", "corpus split: heldout, or train to compare with examples of the worlds trained on (pick -start past the training run's -n)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: anima eval [flags]\n\nEvaluates a model on the corpus's held-out split (issue 5): decision\nvalidity with and without the grammar, action and target accuracy against\nthe generator's labels, injection attempts answered in character, and\nperplexity, overall and per language.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 100000 {
		return fmt.Errorf("eval: -n %d out of range 1..100000", *n)
	}
	if *start < 0 {
		return fmt.Errorf("eval: -start %d: an example index is never negative", *start)
	}
	sp, err := corpus.ParseSplit(*split)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	f, name, err := node.OpenModel(*path)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	m, err := model.Load(f, kernels.NewPool(*threads))
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	vocab, err := grammar.FromTokenizer(tok)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	eng, err := engine.New(m, tok, engine.Options{})
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer eng.Close()

	gen, err := corpus.New(cat, *seed, sp, nil)
	if err != nil {
		return err
	}
	// The examples are rendered in the layout the model learnt.
	pf, err := node.PromptFormat(f)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	gen.SetPromptFormat(pf)
	examples := make([]*corpus.Example, *n)
	for i := range examples {
		if examples[i], err = gen.Example(*start + i); err != nil {
			return err
		}
	}
	// Samples are a seeded random draw per language: keep the first
	// `samples` of each language after a shuffle, evaluated first.
	order := rand.New(rand.NewPCG(*seed, 0xe7a1)).Perm(len(examples))
	shuffled := make([]*corpus.Example, len(examples))
	for i, j := range order {
		shuffled[i] = examples[j]
	}
	keep := 0
	show := map[string]bool{}
	for _, k := range strings.Split(*showKinds, ",") {
		if k = strings.TrimSpace(k); k != "" {
			if !slices.Contains(corpus.Kinds(), k) {
				return fmt.Errorf("eval: -show-kind %q is no situation kind; the kinds are %s", k, strings.Join(corpus.Kinds(), ", "))
			}
			show[k] = true
		}
	}
	if *samples > 0 || len(show) > 0 {
		picked := map[corpus.Lang]int{}
		var first, rest []*corpus.Example
		for _, e := range shuffled {
			switch {
			case show[e.Kind]:
				first = append(first, e)
			case picked[e.Lang] < *samples:
				picked[e.Lang]++
				first = append(first, e)
			default:
				rest = append(rest, e)
			}
		}
		keep = len(first)
		shuffled = append(first, rest...)
	}

	t0 := time.Now()
	fmt.Fprintf(stderr, "eval: %s, %d held-out examples (seed %d)\n", name, len(examples), *seed)
	rep, err := eval.Run(ctx, eval.Config{Engine: eng, Model: m, Tokenizer: tok, Vocab: vocab, Catalog: cat, MaxTokens: *maxTokens},
		shuffled, keep, func(done int) {
			if done%20 == 0 || done == len(shuffled) {
				fmt.Fprintf(stderr, "eval: %d/%d (%.0fs)\n", done, len(shuffled), time.Since(t0).Seconds())
			}
		})
	if err != nil {
		return err
	}
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		err = writeEvalJSON(f, name, rep)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	if *asJSON {
		return writeEvalJSON(stdout, name, rep)
	}
	writeEvalTable(stdout, name, rep)
	if *byKind {
		writeKindTable(stdout, rep)
	}
	return nil
}

// writeEvalJSON writes the report as one JSON object: the overall scores at
// the top level (valid_constrained, action_accuracy, ...), then by_lang,
// by_kind and samples. NaN (a rate over no examples) is written as null.
func writeEvalJSON(w io.Writer, name string, rep *eval.Report) error {
	obj := map[string]any{"model": name}
	for k, v := range scoresMap(rep.Overall) {
		obj[k] = v
	}
	by := map[string]any{}
	for l, s := range rep.ByLang {
		by[l] = scoresMap(s)
	}
	obj["by_lang"] = by
	byKind := map[string]any{}
	for k, s := range rep.ByKind {
		byKind[k] = scoresMap(s)
	}
	obj["by_kind"] = byKind
	if len(rep.Samples) > 0 {
		obj["samples"] = rep.Samples
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(obj)
}

func scoresMap(s eval.Scores) map[string]any {
	out := map[string]any{
		"examples":           s.Examples,
		"target_examples":    s.TargetExamples,
		"injection_examples": s.InjectionExamples,
		"grounded_examples":  s.GroundedExamples,
		"places_named":       s.PlacesNamed,
	}
	for k, v := range map[string]float64{
		"valid_constrained": s.ValidConstrained, "valid_unconstrained": s.ValidUnconstrained,
		"action_accuracy": s.ActionAccuracy, "target_accuracy": s.TargetAccuracy,
		"injection_in_character": s.InjectionInCharacter, "perplexity": s.Perplexity,
		"decode_tok_s": s.DecodeTokS, "reused_share": s.ReusedShare, "grounded": s.Grounded, "places_real": s.PlacesReal,
	} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[k] = nil
		} else {
			out[k] = math.Round(v*10000) / 10000
		}
	}
	return out
}

func writeEvalTable(w io.Writer, name string, rep *eval.Report) {
	langs := make([]string, 0, len(rep.ByLang))
	for l := range rep.ByLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	cols := append([]string{"overall"}, langs...)
	get := func(c string) eval.Scores {
		if c == "overall" {
			return rep.Overall
		}
		return rep.ByLang[c]
	}
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	num := func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return fmt.Sprintf("%.2f", v)
	}
	fmt.Fprintf(w, "model: %s\n\n| metric |", name)
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c)
	}
	fmt.Fprintf(w, "\n| --- |")
	for range cols {
		fmt.Fprintf(w, " --- |")
	}
	fmt.Fprintln(w)
	rows := []struct {
		name string
		f    func(eval.Scores) string
	}{
		{"examples", func(s eval.Scores) string { return fmt.Sprint(s.Examples) }},
		{"valid (constrained)", func(s eval.Scores) string { return pct(s.ValidConstrained) }},
		{"valid (unconstrained)", func(s eval.Scores) string { return pct(s.ValidUnconstrained) }},
		{"action accuracy", func(s eval.Scores) string { return pct(s.ActionAccuracy) }},
		{"target accuracy", func(s eval.Scores) string {
			return fmt.Sprintf("%s of %d", pct(s.TargetAccuracy), s.TargetExamples)
		}},
		{"injection in character", func(s eval.Scores) string {
			return fmt.Sprintf("%s of %d", pct(s.InjectionInCharacter), s.InjectionExamples)
		}},
		{"reply grounded (names what it must)", func(s eval.Scores) string {
			return fmt.Sprintf("%s of %d", pct(s.Grounded), s.GroundedExamples)
		}},
		{"places named that are the world's", func(s eval.Scores) string {
			return fmt.Sprintf("%s of %d", pct(s.PlacesReal), s.PlacesNamed)
		}},
		{"perplexity (completion)", func(s eval.Scores) string { return num(s.Perplexity) }},
		{"decode tok/s (constrained)", func(s eval.Scores) string { return fmt.Sprintf("%.0f", s.DecodeTokS) }},
		{"prompt tokens reused", func(s eval.Scores) string { return pct(s.ReusedShare) }},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |", r.name)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", r.f(get(c)))
		}
		fmt.Fprintln(w)
	}
	for _, s := range rep.Samples {
		verdict := "action accepted"
		if !s.ActionOK {
			verdict = "action WRONG"
		}
		fmt.Fprintf(w, "\n[%s %s %s] heard: %q (%s)\n  model:     %s\n  reference: %s\n", s.Lang, s.Kind, s.ID, s.Heard, verdict, s.Constrained, s.Reference)
	}
}

// writeKindTable prints one row per situation kind, worst action accuracy
// first: where a model falls short.
func writeKindTable(w io.Writer, rep *eval.Report) {
	kinds := make([]string, 0, len(rep.ByKind))
	for k := range rep.ByKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		a, b := rep.ByKind[kinds[i]], rep.ByKind[kinds[j]]
		if a.ActionAccuracy != b.ActionAccuracy {
			return a.ActionAccuracy < b.ActionAccuracy
		}
		return kinds[i] < kinds[j]
	})
	frac := func(rate float64, n int) string {
		if n == 0 || math.IsNaN(rate) {
			return "–"
		}
		return fmt.Sprintf("%d/%d", int(math.Round(rate*float64(n))), n)
	}
	fmt.Fprintf(w, "\n| kind | examples | action | target | grounded | valid (unconstrained) |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, k := range kinds {
		s := rep.ByKind[k]
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", k, s.Examples, frac(s.ActionAccuracy, s.Examples),
			frac(s.TargetAccuracy, s.TargetExamples), frac(s.Grounded, s.GroundedExamples), frac(s.ValidUnconstrained, s.Examples))
	}
}
