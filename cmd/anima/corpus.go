package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/anima-rt/anima/corpus"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// runCorpus writes the synthetic NPC corpus as JSONL and prints a summary
// (counts per action, role, kind, language) to stderr.
func runCorpus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "random seed; the same seed, split and index give the same example")
	n := fs.Int("n", 1000, "number of examples")
	start := fs.Int("start", 0, "index of the first example (to shard a corpus)")
	split := fs.String("split", "train", "train or heldout")
	lang := fs.String("lang", "", "en or ko (default both)")
	out := fs.String("o", "-", "output JSONL file (- for stdout)")
	catFile := fs.String("catalog", "", "action catalog JSON (default: the embedded assets/catalog/actions.json)")
	quiet := fs.Bool("q", false, "do not print the summary")
	group := fs.Int("group", 1, "consecutive examples sharing world and persona (1 to 64), so a trainer can share their prompt prefix")
	fresh := fs.Bool("fresh-worlds", false, "a new world for every example (every group) instead of the split's few, so a model cannot learn worlds by heart")
	format := fs.String("prompt-format", "id-first", "layout of ids beside names in the prompts: id-first (\"l5 the Stone Well\"), name-first (\"the Stone Well l5\"), id-last (`the Stone Well (well, up the hill) \"l5\"`) id-last-colon (`the Stone Well: well, up the hill \"l5\"`) names (`well, up the hill: \"the Stone Well\"`, the decision's target the name too) or id-last-recall (id-last, each user turn ending with a [Recall] line: the places and lore facts its speech names); a model trained on it must be exported with the same -prompt-format")
	augment := fs.Bool("augment", false, "vary the training split's player lines around their slots (a neutral lead-in, a word left out), so a model learns what a line names rather than its exact words; train split only")
	extra := fs.Bool("extra-phrasings", false, "draw the training split's player lines from the extra training-only banks too (12 to 20 more phrasings of each kind); train split only")
	lookup := fs.Int("lookup-boost", 1, "multiply how often the training split draws situations that look up a named place or person (ask_place, guide, ask_person) by this, 1 to 4; train split only")
	places := fs.Bool("place-mentions", false, "make a third of the training split's injections, insults, threats, nonsense, greetings and farewells name a place of the world without asking for it, so a model learns that a place named (and, under id-last-recall, recalled) is not a place asked for; train split only")
	coined := fs.Bool("coined-names", false, "with -fresh-worlds, give half the places of every training world a made-up name (hundreds a kind), so a model must copy a place's name from its prompt rather than guess its kind's usual one; train split only")
	drills := fs.Bool("drills", false, "make every 8th example a lookup drill (a few things named, their ids written) instead of a decision, so a model learns to find things in its prompt; train split only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 || *start < 0 {
		return fmt.Errorf("-n and -start must not be negative")
	}
	if *group < 1 || *group > corpus.MaxGroup {
		return fmt.Errorf("-group %d: want 1 to %d", *group, corpus.MaxGroup)
	}
	sp, err := corpus.ParseSplit(*split)
	if err != nil {
		return err
	}
	pf, err := npc.ParsePromptFormat(*format)
	if err != nil {
		return fmt.Errorf("-prompt-format: %w", err)
	}
	var langs []corpus.Lang
	if *lang != "" {
		langs = []corpus.Lang{corpus.Lang(*lang)}
	}
	var cat *catalog.Catalog
	if *catFile != "" {
		cat, err = catalog.Load(os.DirFS("."), *catFile)
	} else {
		cat, err = catalog.Default()
	}
	if err != nil {
		return err
	}
	g, err := corpus.New(cat, *seed, sp, langs)
	if err != nil {
		return err
	}
	g.SetFreshWorlds(*fresh)
	g.SetPromptFormat(pf)
	if err := g.SetAugment(*augment); err != nil {
		return fmt.Errorf("-augment: %w", err)
	}
	if err := g.SetExtraPhrasings(*extra); err != nil {
		return fmt.Errorf("-extra-phrasings: %w", err)
	}
	if err := g.SetLookupBoost(*lookup); err != nil {
		return fmt.Errorf("-lookup-boost: %w", err)
	}
	if err := g.SetPlaceMentions(*places); err != nil {
		return fmt.Errorf("-place-mentions: %w", err)
	}
	if err := g.SetCoinedNames(*coined); err != nil {
		return fmt.Errorf("-coined-names: %w", err)
	}
	if err := g.SetDrills(*drills); err != nil {
		return fmt.Errorf("-drills: %w", err)
	}
	if err := g.SetGroup(*group); err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	sum := corpus.NewSummary()
	for i := *start; i < *start+*n; i++ {
		if i%1000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := g.Example(i)
		if err != nil {
			return err
		}
		if err := e.WriteJSONL(bw); err != nil {
			return err
		}
		sum.Add(e)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if *out != "-" {
		if f, ok := w.(*os.File); ok {
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	if !*quiet {
		return sum.Write(os.Stderr)
	}
	return nil
}
