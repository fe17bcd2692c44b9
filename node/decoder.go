package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/remote"
	"github.com/anima-rt/anima/inference/sample"
	"github.com/anima-rt/anima/inference/tokenizer"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
)

// Decoder is a loaded model behind an engine, and the mind.Generator over
// it: the NPC minds think on it, and anima serve -openai serves its engine.
type Decoder struct {
	info    protocol.Model
	context int // the engine's context, in tokens
	eng     *engine.Engine
	vocab   *grammar.Vocab
	file    *gguf.File
	pool    *kernels.Pool
	format  npc.PromptFormat // the layout the model's prompts were trained on

	// remote, when set, is where the minds think instead of eng (see
	// RemoteDecoder); local is then the fallback decoder it owns, if any.
	remote *remote.Client
	local  *Decoder

	// grammars are the compiled decision schemas (grammar.Cache): a
	// schema compiles in microseconds, but reusing the Grammar of an NPC's
	// last schema (same actions, same targets) keeps its token masks.
	grammars *grammar.Cache
}

// grammarCacheBytes bounds the compiled schemas kept. A decision
// grammar over the embedded model's vocabulary weighs tens of KiB (the
// bench's NPC decision schema: 15 KiB compiled, 20 KiB after 200 random
// decisions), so the cache holds thousands.
const grammarCacheBytes = 64 << 20

// OpenModel opens the GGUF model at path, or the embedded default model
// when path is empty, and names it (the path, or the embedded file's name).
func OpenModel(path string) (f *gguf.File, name string, err error) {
	if path == "" {
		data, err := assets.Model()
		if err != nil {
			return nil, "", err
		}
		f, err = gguf.Parse(data)
		return f, assets.ModelFile, err
	}
	f, err = gguf.Open(path)
	return f, path, err
}

// LoadDecoder loads the GGUF model at path, or the embedded default model
// when path is empty, and starts an engine on it with threads compute
// threads (0: all cores) and the default options. Close it when done.
func LoadDecoder(path string, threads int) (*Decoder, error) {
	return LoadDecoderWith(path, Options{Threads: threads})
}

// Options tune LoadDecoderWith. Zero fields take the defaults named.
type Options struct {
	Threads int // compute threads (0: all cores)
	// CacheBytes is the memory of the engine's prefix store, which keeps
	// finished prompts' keys and values for the next prompt that starts
	// alike (default 256 MiB). A conversation's next turn reuses its last
	// prompt only if the store still holds it: the store must hold what
	// the node computes between an NPC's turns (~350 tokens a think on the
	// embedded model, 6 KiB of keys and values a token).
	CacheBytes int64
}

// DefaultCacheBytes is Options.CacheBytes' default.
const DefaultCacheBytes = 256 << 20

// LoadDecoderWith is LoadDecoder with options.
func LoadDecoderWith(path string, opt Options) (*Decoder, error) {
	if opt.CacheBytes <= 0 {
		opt.CacheBytes = DefaultCacheBytes
	}
	f, name, err := OpenModel(path)
	if err != nil {
		return nil, err
	}
	d := &Decoder{file: f, pool: kernels.NewPool(opt.Threads)}
	fail := func(err error) (*Decoder, error) {
		d.Close()
		return nil, err
	}
	m, err := model.Load(f, d.pool)
	if err != nil {
		return fail(err)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		return fail(err)
	}
	if d.vocab, err = grammar.FromTokenizer(tok); err != nil {
		return fail(err)
	}
	if d.grammars, err = grammar.NewCache(d.vocab, grammarCacheBytes); err != nil {
		return fail(err)
	}
	if d.format, err = PromptFormat(f); err != nil {
		return fail(err)
	}
	if d.eng, err = engine.New(m, tok, engine.Options{QueueSize: 256, StoreBytes: opt.CacheBytes}); err != nil {
		return fail(err)
	}
	if gn, err := f.String("general.name"); err == nil && gn != "" {
		name = gn
	}
	arch, _ := f.Architecture()
	d.context = m.Config.Context
	d.info = protocol.Model{Name: name, Arch: arch, Backend: "native", ContextTokens: d.context}
	return d, nil
}

// Info describes the model as the server's welcome announces it.
func (d *Decoder) Info() protocol.Model { return d.info }

// Context is the engine's context, in tokens.
func (d *Decoder) Context() int { return d.context }

// Engine is the engine the minds think on; callers may submit their own
// requests to it (the OpenAI-compatible endpoint does).
func (d *Decoder) Engine() *engine.Engine { return d.eng }

// Vocab is the model's vocabulary as the grammar compiler sees it.
func (d *Decoder) Vocab() *grammar.Vocab { return d.vocab }

// RemoteDecoder is a Decoder whose minds think on an OpenAI-compatible
// server (vLLM, SGLang, llama.cpp's server, another Anima node's -openai):
// issue 10's remote tier. ctx is the server model's context in tokens,
// which bounds the conversations the minds keep. fallback, when not nil, is
// a local decoder that takes the requests the server cannot (circuit open,
// unreachable, overloaded) before anything was streamed; the returned
// Decoder owns it and closes it. Engine and Vocab are the fallback's (nil
// without one).
func RemoteDecoder(cfg remote.Config, ctx int, fallback *Decoder) (*Decoder, error) {
	if ctx <= 0 {
		return nil, fmt.Errorf("node: remote decoder: context of %d tokens", ctx)
	}
	if fallback != nil {
		cfg.Fallback, cfg.FallbackVocab = fallback.eng, fallback.vocab
	}
	c, err := remote.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	d := &Decoder{remote: c, local: fallback, context: ctx,
		info: protocol.Model{Name: cfg.Model, Backend: "remote", ContextTokens: ctx}}
	if fallback != nil {
		// The server's model is not ours to inspect; its prompts take the
		// fallback's layout, which the fallback needs when it answers.
		d.eng, d.vocab, d.info.Arch, d.format = fallback.eng, fallback.vocab, fallback.info.Arch, fallback.format
	}
	return d, nil
}

// PromptFormat is the id/name layout f's model was trained on: the value
// of npc.PromptFormatKey, or npc.IDFirst for a file without it (models
// made before the key, and models from elsewhere).
func PromptFormat(f *gguf.File) (npc.PromptFormat, error) {
	if !f.Has(npc.PromptFormatKey) {
		return npc.IDFirst, nil
	}
	s, err := f.String(npc.PromptFormatKey)
	if err != nil {
		return 0, fmt.Errorf("node: %w", err)
	}
	pf, err := npc.ParsePromptFormat(s)
	if err != nil {
		return 0, fmt.Errorf("node: model's %s: %w", npc.PromptFormatKey, err)
	}
	return pf, nil
}

// Close stops the engine and frees the model.
func (d *Decoder) Close() error {
	if d.remote != nil {
		if d.local != nil {
			return d.local.Close()
		}
		return nil
	}
	if d.eng != nil {
		d.eng.Close()
	}
	if d.grammars != nil {
		d.grammars.Close()
	}
	d.pool.Close()
	return d.file.Close()
}

func (d *Decoder) grammar(schema []byte) (*grammar.Grammar, error) {
	if d.remote != nil {
		return d.remote.Grammar(schema) // its own cache, over both vocabularies
	}
	return d.grammars.Get(schema)
}

// Grammars is the cache of compiled schemas the minds use, to share with
// other users of the engine (the OpenAI-compatible endpoint); nil for a
// remote decoder.
func (d *Decoder) Grammars() *grammar.Cache { return d.grammars }

// Generate implements mind.Generator on the engine. Every segment is
// parsed for ChatML control tokens: npc.RenderPrompt has already broken up
// any such string in free text (what a player said), so only its own
// scaffolding can open a turn.
func (d *Decoder) Generate(ctx context.Context, req mind.Request, say func(string)) (mind.Result, error) {
	g, err := d.grammar(req.Schema)
	if err != nil {
		return mind.Result{}, fmt.Errorf("node: decision schema: %w", err)
	}
	segs := make([]engine.Segment, len(req.Segments))
	for i, s := range req.Segments {
		segs[i] = engine.Segment{Text: s.Text, Special: true}
	}
	smp := sample.Params{Temperature: req.Temperature}
	if req.Temperature > 0 {
		smp.TopP, smp.MinP = 0.9, 0.05
	}
	start := time.Now()
	var pieces []string
	var gen interface {
		Generate(context.Context, engine.Request, func(engine.Event)) (engine.Result, error)
	} = d.eng
	if d.remote != nil {
		gen = d.remote
	}
	res, err := gen.Generate(ctx, engine.Request{
		Segments: segs, Grammar: g, StreamField: req.StreamField,
		Sampling:  engine.Sampling{Params: smp, Seed: req.Seed},
		MaxTokens: req.MaxTokens, Priority: req.Priority, Deadline: req.Deadline,
	}, func(ev engine.Event) {
		if ev.Text != "" {
			pieces = append(pieces, ev.Text)
		}
		if ev.Field != "" && say != nil {
			say(ev.Field)
		}
	})
	st := res.Stats
	out := mind.Result{Text: res.Text, Pieces: pieces, Stats: mind.Stats{
		PromptTokens: st.PromptTokens, ReusedTokens: st.ReusedTokens, GeneratedTokens: st.GeneratedTokens,
		TTFT: st.TTFT, Total: time.Since(start),
		Stopped: st.Finish == engine.FinishCancelled || st.Finish == engine.FinishDeadline,
	}}
	switch {
	case errors.Is(err, engine.ErrOverloaded):
		return out, fmt.Errorf("%w: %w", mind.ErrOverloaded, err)
	case errors.Is(err, remote.ErrTooLong):
		return out, fmt.Errorf("%w: %w", mind.ErrTooLong, err)
	case err != nil && st.PromptTokens >= d.context:
		// The engine has no sentinel for it; its stats say the prompt
		// filled the context.
		return out, fmt.Errorf("%w: %w", mind.ErrTooLong, err)
	}
	return out, err
}
