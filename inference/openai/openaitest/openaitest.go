// Package openaitest builds what tests of OpenAI-compatible serving need, as
// net/http/httptest does for handlers: a small random-weight qwen3moe model
// with a real (trained byte-level BPE, ChatML) tokenizer, engines on it, and
// Anima's OpenAI server on a loopback listener that can be killed and
// restarted on the same address, as a crashed process would be.
package openaitest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/openai"
	"github.com/anima-rt/anima/inference/tensor"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// Context is the test model's context, in tokens.
const Context = 1024

// corpus teaches the tokenizer the shapes of NPC prompts and decisions, so
// that prompts take tens of tokens, not hundreds of bytes.
var corpus = []string{
	"<|im_start|>system\n[World] Harrow is a river town. The smith works at the forge by the mill.\n<|im_end|>\n",
	"<|im_start|>user\n[Heard] p1 Aren: \"Is the bridge safe after dark?\"\n<|im_end|>\n<|im_start|>assistant\n",
	`{"emotion":"wary","action":{"name":"follow","target":"p1"},"say":"Stay close. The bridge is not safe."}<|im_end|>`,
	`{"emotion":"calm","action":{"name":"give","target":"p2"},"say":"Take the bread, and thank the baker."}<|im_end|>`,
	"You are Mira, the baker's daughter, wary of strangers. Wolves come down from the forest at night.\n",
}

// Model is a loaded random-weight model with its tokenizer.
type Model struct {
	Model *model.Model
	Tok   *tokenizer.Tokenizer
	Vocab *grammar.Vocab // the grammar's view of Tok
}

// NewModel builds the test model (a few milliseconds: a 4-expert, 2-layer
// qwen3moe of width 64 over a vocabulary of about 400 tokens) on one
// compute thread.
func NewModel(t testing.TB) *Model {
	t.Helper()
	tr := tokenizer.NewBPETrainer()
	for range 8 {
		for _, s := range corpus {
			tr.AddTemplate(s)
		}
	}
	tv, err := tr.Train(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	spec := model.Spec{Arch: "qwen3moe", Vocab: len(tv.Tokens), Dim: 64, Layers: 2, Heads: 2, KVHeads: 1, HeadDim: 32,
		Experts: 4, ExpertsUsed: 2, FFN: 64, RopeBase: 1e6, Eps: 1e-6, Context: Context}
	w, err := model.RandomWriter(spec, tensor.F32, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range tv.KVs() {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pool := kernels.NewPool(1)
	t.Cleanup(pool.Close)
	m, err := model.Load(f, pool)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatal(err)
	}
	v, err := grammar.FromTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	return &Model{Model: m, Tok: tok, Vocab: v}
}

// Engine starts an engine on m, closed when the test ends.
func (m *Model) Engine(t testing.TB, opt engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(m.Model, m.Tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Config is an openai.Config serving m through e.
func (m *Model) Config(e *engine.Engine) openai.Config {
	return openai.Config{Engine: e, Vocab: m.Vocab, Context: Context, Model: "anima-test"}
}

// Server is an OpenAI server on a loopback address that survives Kill and
// Start, as a process restarted by its supervisor keeps its address.
type Server struct {
	URL  string // base URL, "http://127.0.0.1:PORT/v1"
	Addr string

	h http.Handler

	mu sync.Mutex // guards hs
	hs *http.Server
}

// Serve starts serving h on a fresh loopback port; it stops when the test
// ends.
func Serve(t testing.TB, h http.Handler) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), h: h}
	s.URL = "http://" + s.Addr + "/v1"
	s.serve(ln)
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) serve(ln net.Listener) {
	hs := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
	// This goroutine exits when Kill closes the server.
	go func() { _ = hs.Serve(ln) }()
}

// Kill closes the listener and every connection at once, mid-response or
// not, as the death of the process would.
func (s *Server) Kill() {
	s.mu.Lock()
	hs := s.hs
	s.hs = nil
	s.mu.Unlock()
	if hs != nil {
		hs.Close()
	}
}

// Start listens again on the same address after Kill.
func (s *Server) Start() error {
	var ln net.Listener
	var err error
	// The port was just released; a moment's retry covers a slow close.
	for range 50 {
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			s.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.Join(errors.New("openaitest: restart"), err)
}

// Up reports whether the server answers /v1/models, waiting up to d.
func (s *Server) Up(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/models", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
