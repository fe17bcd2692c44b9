package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anima-rt/anima/corpus"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/kernels"
	"github.com/anima-rt/anima/inference/model"
	"github.com/anima-rt/anima/inference/tensor"
	"github.com/anima-rt/anima/inference/tokenizer"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// fixtureDir holds a tiny model trained by train/train.py on a tiny corpus
// (train/fixture.sh remakes it): its tokenizer, its weights as train.py
// writes them, and the logits torch computed for a fixed prompt. Setting
// ANIMA_TRAIN_FIXTURE to another such folder (train.py's output plus
// tokenizer.gguf) runs the same checks on a real training run.
var fixtureDir = cmp.Or(os.Getenv("ANIMA_TRAIN_FIXTURE"), filepath.Join("testdata", "train"))

// writeCorpus writes n examples of the real generator as JSONL.
func writeCorpus(t *testing.T, n int) (string, []*corpus.Example) {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	g, err := corpus.New(cat, 7, corpus.Train, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "corpus.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exs []*corpus.Example
	for i := range n {
		e, err := g.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.WriteJSONL(f); err != nil {
			t.Fatal(err)
		}
		exs = append(exs, e)
	}
	return path, exs
}

func TestTrainTokenizeMasksOnlyTheCompletion(t *testing.T) {
	ctx := context.Background()
	path, exs := writeCorpus(t, 40)
	dir := t.TempDir()
	tokPath := filepath.Join(dir, "tok.gguf")
	if err := runTrain(ctx, []string{"tokenizer", "-corpus", path, "-vocab", "1024", "-o", tokPath}); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "tokens")
	if err := runTrain(ctx, []string{"tokenize", "-corpus", path, "-tokenizer", tokPath, "-o", prefix}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := openTokenizer(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := os.ReadFile(prefix + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var h TokenHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if h.Sequences != len(exs) || h.Vocab != tok.VocabSize() || h.Dropped != 0 {
		t.Fatalf("header = %+v; want %d sequences, vocabulary %d, none dropped", h, len(exs), tok.VocabSize())
	}
	bin, err := os.ReadFile(prefix + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	if want := 4*(h.Sequences+1) + 3*h.Tokens; len(bin) != want {
		t.Fatalf("token file is %d bytes; want %d", len(bin), want)
	}
	ids := bin[4*(h.Sequences+1):]
	mask := ids[2*h.Tokens:]
	end, _ := tok.TokenID(npc.ImEnd)
	for i, e := range exs {
		a := int(binary.LittleEndian.Uint32(bin[4*i:]))
		b := int(binary.LittleEndian.Uint32(bin[4*i+4:]))
		var prompt, comp, key []int32
		for k := a; k < b; k++ {
			id := int32(binary.LittleEndian.Uint16(ids[2*k:]))
			if mask[k] > 2 {
				t.Fatalf("example %s: mask %d at %d; want 0, 1 or 2", e.ID, mask[k], k)
			}
			if mask[k] == 2 {
				key = append(key, id)
			}
			if mask[k] >= 1 {
				comp = append(comp, id)
			} else if comp != nil {
				t.Fatalf("example %s: prompt token after the completion began at %d", e.ID, k)
			} else {
				prompt = append(prompt, id)
			}
		}
		// The prompt is the runtime's: each segment tokenized alone,
		// with the renderer's ChatML markers as control tokens.
		var want []int32
		for _, s := range e.Segments {
			want = append(want, tok.EncodeSpecial(s.Text)...)
		}
		if !slices.Equal(prompt, want) {
			t.Errorf("example %s: prompt tokens differ from the segments' EncodeSpecial", e.ID)
		}
		if len(comp) == 0 || comp[len(comp)-1] != end {
			t.Errorf("example %s: completion %v does not end with <|im_end|> (%d)", e.ID, comp, end)
			continue
		}
		if got, want := tok.Decode(comp), strings.TrimSuffix(e.Completion, npc.ImEnd); got != want {
			t.Errorf("example %s: loss-masked tokens decode to %q; want the decision %q", e.ID, got, want)
		}
		// The key tokens are the target's id and the names the reply
		// must mention, and nothing else of the reply's words.
		keyText := tok.Decode(key)
		if tg := e.Decision.Action.Target; tg != "" && !strings.Contains(keyText, tg) {
			t.Errorf("example %s: key tokens %q lack the target %q", e.ID, keyText, tg)
		}
		rest := keyText
		if tg := e.Decision.Action.Target; tg != "" {
			rest = strings.Replace(rest, tg, "", 1)
		}
		for _, m := range e.Labels.Mentions {
			if !corpus.Mentions(keyText, m) {
				t.Errorf("example %s: key tokens %q lack the mention %q", e.ID, keyText, m)
			}
			rest = strings.Replace(rest, m, "", 1)
		}
		if len(rest) > len(keyText)/2+8 {
			t.Errorf("example %s: key tokens %q are more than the target and mentions %q", e.ID, keyText, e.Labels.Mentions)
		}
	}
	if h.KeyTokens == 0 || h.KeyTokens >= h.LossTokens {
		t.Errorf("header: %d key tokens of %d loss tokens; want some, fewer than all", h.KeyTokens, h.LossTokens)
	}
}

// fixtureLogits is train.py's logits.json.
type fixtureLogits struct {
	Tokens []int32     `json:"tokens"`
	Vocab  int         `json:"vocab"`
	Logits [][]float64 `json:"logits"`
}

func loadFixture(t *testing.T) (fixtureLogits, []gguf.KV) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "logits.json"))
	if err != nil {
		t.Fatalf("fixture missing (train/fixture.sh makes it): %v", err)
	}
	var fl fixtureLogits
	if err := json.Unmarshal(b, &fl); err != nil {
		t.Fatal(err)
	}
	_, kvs, err := openTokenizer(filepath.Join(fixtureDir, "tokenizer.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	return fl, kvs
}

// exportAndRun exports the fixture as typ, loads it with the native
// decoder and returns every position's logits for the fixture's prompt.
func exportAndRun(t *testing.T, typ string, kvs []gguf.KV, toks []int32) (*gguf.File, []float32) {
	t.Helper()
	w, err := exportGGUF(fixtureDir, kvs, typ, "fixture")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	pool := kernels.NewPool(1)
	t.Cleanup(pool.Close)
	m, err := model.Load(f, pool)
	if err != nil {
		t.Fatalf("model.Load(exported %s): %v", typ, err)
	}
	st, err := m.NewState(len(toks), 8)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]float32, len(toks)*m.Config.Vocab)
	if err := m.ForwardAll(st, toks, all); err != nil {
		t.Fatal(err)
	}
	return f, all
}

func TestExportedGGUFReproducesTorchLogits(t *testing.T) {
	fl, kvs := loadFixture(t)
	// F32 must be torch's computation to rounding; F16 and Q8_0 round the
	// weights (and Q8_0 the activations too, as llama.cpp does), so they
	// are held to the mean error and to the top token.
	for _, tc := range []struct {
		typ    string
		tol    float64 // largest allowed |Go − torch| over all logits
		mean   float64 // largest allowed mean |Go − torch|
		argmax int     // positions whose top token may differ
	}{
		{"f32", 1e-3, 1e-4, 0},
		{"f16", 0.05, 0.01, 1},
		{"q8_0", 5, 0.1, max(2, len(fl.Logits)/8)}, // tiny rows: Q8_0 noise is large at the extremes
	} {
		f, all := exportAndRun(t, tc.typ, kvs, fl.Tokens)
		worst, sum, flips := 0.0, 0.0, 0
		for i, row := range fl.Logits {
			got := all[i*fl.Vocab : (i+1)*fl.Vocab]
			best, gbest := 0, 0
			for v, want := range row {
				d := math.Abs(float64(got[v]) - want)
				worst, sum = max(worst, d), sum+d
				if want > row[best] {
					best = v
				}
				if got[v] > got[gbest] {
					gbest = v
				}
			}
			if best != gbest {
				flips++
			}
		}
		mean := sum / float64(len(fl.Logits)*fl.Vocab)
		t.Logf("%s export: max |Go − torch| logit %.2g, mean %.2g, top token differs at %d of %d positions", tc.typ, worst, mean, flips, len(fl.Logits))
		if worst > tc.tol || mean > tc.mean || flips > tc.argmax {
			t.Errorf("%s export: max |Go − torch| logit = %.2g (want ≤ %g), mean %.2g (want ≤ %g), top token differs at %d of %d positions (want ≤ %d)",
				tc.typ, worst, tc.tol, mean, tc.mean, flips, len(fl.Logits), tc.argmax)
		}
		// Norms and the router stay F32 whatever the matrices' type.
		want := map[string]tensor.Type{"blk.0.attn_norm.weight": tensor.F32, "blk.0.ffn_gate_inp.weight": tensor.F32,
			"blk.0.attn_q_norm.weight": tensor.F32, "blk.0.ffn_up_exps.weight": exportTypes[tc.typ].typ, "output.weight": exportTypes[tc.typ].typ}
		for name, typ := range want {
			if ti, err := f.TensorInfo(name); err != nil || ti.Type != typ {
				t.Errorf("%s export: tensor %s type %v, err %v; want %s", tc.typ, name, ti.Type, err, typ)
			}
		}
	}
}

func TestExportedGGUFHasQwen3MoEKeysAndTokenizer(t *testing.T) {
	fl, kvs := loadFixture(t)
	f, _ := exportAndRun(t, "q8_0", kvs, fl.Tokens[:1])
	for _, k := range []string{"general.architecture", "qwen3moe.block_count", "qwen3moe.context_length", "qwen3moe.embedding_length",
		"qwen3moe.feed_forward_length", "qwen3moe.attention.head_count", "qwen3moe.attention.head_count_kv",
		"qwen3moe.attention.key_length", "qwen3moe.attention.value_length", "qwen3moe.rope.freq_base",
		"qwen3moe.attention.layer_norm_rms_epsilon", "qwen3moe.expert_count", "qwen3moe.expert_used_count",
		"qwen3moe.expert_feed_forward_length", "general.file_type"} {
		if !f.Has(k) {
			t.Errorf("exported file lacks key %q", k)
		}
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatalf("tokenizer.New(exported file): %v", err)
	}
	if tok.ChatTemplate() == "" || tok.EOS() < 0 || !tok.IsEOG(tok.EOS()) {
		t.Errorf("exported tokenizer: template %q, EOS %d; want ChatML and an end-of-turn EOS", tok.ChatTemplate(), tok.EOS())
	}
}

// copyFixture copies the fixture's weights to a temporary folder and lets
// edit change the index before it is written back.
func copyFixture(t *testing.T, edit func(*WeightIndex)) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(fixtureDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "index.json" {
			var idx WeightIndex
			if err := json.Unmarshal(b, &idx); err != nil {
				t.Fatal(err)
			}
			edit(&idx)
			b, _ = json.Marshal(idx)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExportRejectsBadWeights(t *testing.T) {
	_, kvs := loadFixture(t)
	for _, tc := range []struct {
		name string
		edit func(*WeightIndex)
		want string
	}{
		{"missing tensor", func(x *WeightIndex) { x.Tensors = x.Tensors[1:] }, `"token_embd.weight" is missing`},
		{"wrong shape", func(x *WeightIndex) { x.Tensors[0].Shape = []int{1, 2} }, "has shape [1 2]"},
		{"offset past the file", func(x *WeightIndex) { x.Tensors[0].Offset = 1 << 40 }, "overrun"},
		{"path escape", func(x *WeightIndex) { x.Tensors[0].File = "../x.bin" }, "plain name"},
		{"bad dtype", func(x *WeightIndex) { x.Tensors[0].DType = "q4" }, `dtype "q4"`},
		{"vocabulary mismatch", func(x *WeightIndex) { x.Config.Vocab++ }, ""},
		{"huge layers", func(x *WeightIndex) { x.Config.Layers = 1 << 30 }, "out of range"},
		{"other arch", func(x *WeightIndex) { x.Config.Arch = "llama" }, `arch "llama"`},
		{"unknown tensor", func(x *WeightIndex) { x.Tensors[0].Name = "extra.weight" }, `unexpected tensor "extra.weight"`},
	} {
		dir := copyFixture(t, tc.edit)
		_, err := exportGGUF(dir, kvs, "f32", "x")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: exportGGUF err = %v; want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := exportGGUF(fixtureDir, kvs, "q4_k", "x"); err == nil || !strings.Contains(err.Error(), "q4_k") {
		t.Errorf("exportGGUF(type q4_k) err = %v; want one naming the type", err)
	}
}

// An export records a name-first corpus's layout in the file, where the
// runtime (node.PromptFormat) reads it; an id-first export carries no key,
// which means id-first, so the default export stays what it was.
func TestExportRecordsThePromptFormat(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		format string
		want   npc.PromptFormat
		hasKey bool
	}{{"id-first", npc.IDFirst, false}, {"name-first", npc.NameFirst, true}, {"id-last", npc.IDLast, true}, {"id-last-colon", npc.IDLastColon, true}, {"names", npc.Names, true}, {"id-last-recall", npc.IDLastRecall, true}} {
		out := filepath.Join(dir, tc.format+".gguf")
		err := runTrainExport(context.Background(), []string{"-weights", fixtureDir, "-tokenizer", filepath.Join(fixtureDir, "tokenizer.gguf"),
			"-type", "f32", "-prompt-format", tc.format, "-o", out})
		if err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := node.PromptFormat(f)
		if err != nil || got != tc.want || f.Has(npc.PromptFormatKey) != tc.hasKey {
			t.Errorf("-prompt-format %s: file says %v (%v), key present %v", tc.format, got, err, f.Has(npc.PromptFormatKey))
		}
		f.Close()
	}
	err := runTrainExport(context.Background(), []string{"-weights", fixtureDir, "-tokenizer", filepath.Join(fixtureDir, "tokenizer.gguf"),
		"-prompt-format", "sideways", "-o", filepath.Join(dir, "x.gguf")})
	if err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Errorf("-prompt-format sideways: error %v, want one naming the value", err)
	}
}
