package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/anima-rt/anima/corpus"
	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/tensor"
	"github.com/anima-rt/anima/inference/tokenizer"
	"github.com/anima-rt/anima/npc"
)

// runTrain is the Go half of the model pipeline (train/README.md): the
// tokenizer is learnt and the corpus tokenized here, train/train.py trains
// on the token file, and the weights it writes are exported to GGUF here.
func runTrain(ctx context.Context, args []string) error {
	verbs := map[string]func(context.Context, []string) error{
		"tokenizer": runTrainTokenizer,
		"tokenize":  runTrainTokenize,
		"export":    runTrainExport,
	}
	if len(args) == 0 || verbs[args[0]] == nil {
		return fmt.Errorf("usage: anima train tokenizer|tokenize|export [flags] (see train/README.md)")
	}
	return verbs[args[0]](ctx, args[1:])
}

// corpusFiles splits a comma-separated list of JSONL files.
func corpusFiles(list string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no corpus file given (-corpus FILE[,FILE...])")
	}
	return out, nil
}

// maxExampleLine bounds one JSONL line, so a corrupt file cannot make the
// scanner buffer grow without end; real examples are a few KiB.
const maxExampleLine = 4 << 20

// eachExample calls fn with every example of the JSONL files, in order.
func eachExample(ctx context.Context, files []string, fn func(*corpus.Example) error) error {
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), maxExampleLine)
		line := 0
		for sc.Scan() {
			line++
			if line%1000 == 0 && ctx.Err() != nil {
				f.Close()
				return ctx.Err()
			}
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var e corpus.Example
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				f.Close()
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
			if len(e.Segments) == 0 || !strings.HasSuffix(e.Completion, npc.ImEnd) {
				f.Close()
				return fmt.Errorf("%s:%d: example %q has no segments or a completion not ending in %s", name, line, e.ID, npc.ImEnd)
			}
			if err := fn(&e); err != nil {
				f.Close()
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", name, line+1, err)
		}
	}
	return nil
}

func runTrainTokenizer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train tokenizer", flag.ContinueOnError)
	in := fs.String("corpus", "", "corpus JSONL files, comma-separated")
	vocab := fs.Int("vocab", 6144, "vocabulary size, control tokens included")
	minCount := fs.Int("min-count", 2, "fewest occurrences of a pair worth a merge")
	out := fs.String("o", "tokenizer.gguf", "output: a GGUF file holding only tokenizer metadata")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := corpusFiles(*in)
	if err != nil {
		return err
	}
	tr := tokenizer.NewBPETrainer()
	n := 0
	err = eachExample(ctx, files, func(e *corpus.Example) error {
		for _, s := range e.Segments {
			tr.AddTemplate(s.Text)
		}
		tr.AddTemplate(e.Completion)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	v, err := tr.Train(*vocab, *minCount)
	if err != nil {
		return err
	}
	w := gguf.NewWriter()
	w.Set("general.name", "anima-npc tokenizer")
	for _, kv := range v.KVs() {
		w.Set(kv.Key, kv.Value)
	}
	if err := w.Err(); err != nil {
		return err
	}
	if err := w.WriteFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "tokenizer: %d examples, %d distinct words, %d merges, %d tokens → %s\n", n, tr.Words(), len(v.Merges), len(v.Tokens), *out)
	return nil
}

// openTokenizer loads the tokenizer a GGUF file describes, with the file's
// key-value pairs for copying into another file.
func openTokenizer(path string) (*tokenizer.Tokenizer, []gguf.KV, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	tok, err := tokenizer.New(f)
	if err != nil {
		return nil, nil, err
	}
	var kvs []gguf.KV
	for _, kv := range f.KVs() {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			kvs = append(kvs, kv)
		}
	}
	return tok, kvs, nil
}

// TokenHeader describes a token file (train/README.md): the .bin beside it
// holds offsets (uint32 × Sequences+1), then token ids (uint16 × Tokens),
// then the loss mask (uint8 × Tokens: 0 on the prompt, 1 on the completion,
// the decision JSON and <|im_end|>, and 2 on the completion's key tokens,
// those a model must look up in its prompt: the target's id and the names
// the reply must mention; train.py's --key-weight weighs them), all
// little-endian.
type TokenHeader struct {
	Format     string         `json:"format"`
	Vocab      int            `json:"vocab"`
	Sequences  int            `json:"sequences"`
	Tokens     int            `json:"tokens"`
	LossTokens int            `json:"loss_tokens"`
	KeyTokens  int            `json:"key_tokens"` // loss tokens marked 2
	MaxLen     int            `json:"max_len"`
	Longest    int            `json:"longest"`
	Dropped    int            `json:"dropped"` // examples longer than MaxLen, left out
	PadID      int32          `json:"pad_id"`
	EOSID      int32          `json:"eos_id"`
	ByLang     map[string]int `json:"by_lang"`
	Corpus     []string       `json:"corpus"`
}

const tokenFormat = "anima-tokens/1"

// tokenizeExample tokenizes e as the runtime will see it: each prompt
// segment on its own with EncodeSpecial (the renderer has already broken up
// any special-token string inside free text, so only its own ChatML
// scaffolding becomes control tokens), then the completion, the text the
// model must write, as plain text followed by the <|im_end|> token.
func tokenizeExample(tok *tokenizer.Tokenizer, e *corpus.Example, ids []int32, mask []uint8) ([]int32, []uint8, error) {
	for _, s := range e.Segments {
		seg := tok.EncodeSpecial(s.Text)
		ids = append(ids, seg...)
		for range seg {
			mask = append(mask, 0)
		}
	}
	end, ok := tok.TokenID(npc.ImEnd)
	if !ok || !tok.IsControl(end) {
		return nil, nil, fmt.Errorf("tokenizer has no %s control token", npc.ImEnd)
	}
	text := strings.TrimSuffix(e.Completion, npc.ImEnd)
	body := tok.Encode(text)
	ids = append(append(ids, body...), end)
	spans := keySpans(e, text)
	at := 0
	for _, id := range body {
		n := len(tok.Decode([]int32{id}))
		m := uint8(1)
		for _, sp := range spans {
			if at < sp[1] && at+n > sp[0] {
				m = 2
			}
		}
		mask = append(mask, m)
		at += n
	}
	mask = append(mask, 1)
	return ids, mask, nil
}

// keySpans returns the byte ranges of completion that a model has to find
// in its prompt rather than compose: the action target's id and, inside
// the say string, where corpus.MentionIndex finds each of the labels'
// mentions. They are a
// few tokens of each reply, and the ones the held-out evaluation found
// wrong most (train/README.md), so the trainer can weigh them up.
func keySpans(e *corpus.Example, completion string) [][2]int {
	var spans [][2]int
	const tgt = `"target":"`
	if i := strings.Index(completion, tgt); i >= 0 {
		a := i + len(tgt)
		if j := strings.IndexByte(completion[a:], '"'); j > 0 {
			spans = append(spans, [2]int{a, a + j})
		}
	}
	const say = `"say":"`
	i := strings.Index(completion, say)
	if i < 0 {
		return spans
	}
	base := i + len(say)
	reply := completion[base:]
	for _, m := range e.Labels.Mentions {
		if j := corpus.MentionIndex(reply, m); m != "" && j >= 0 {
			spans = append(spans, [2]int{base + j, base + j + len(m)})
		}
	}
	return spans
}

func runTrainTokenize(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train tokenize", flag.ContinueOnError)
	in := fs.String("corpus", "", "corpus JSONL files, comma-separated")
	tokPath := fs.String("tokenizer", "tokenizer.gguf", "tokenizer GGUF (from anima train tokenizer)")
	maxLen := fs.Int("max-len", 1024, "longest example kept, in tokens (the training context)")
	out := fs.String("o", "tokens", "output prefix: writes PREFIX.bin and PREFIX.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := corpusFiles(*in)
	if err != nil {
		return err
	}
	tok, _, err := openTokenizer(*tokPath)
	if err != nil {
		return err
	}
	if tok.VocabSize() > math.MaxUint16+1 {
		return fmt.Errorf("vocabulary of %d tokens does not fit uint16 ids", tok.VocabSize())
	}
	h := TokenHeader{Format: tokenFormat, Vocab: tok.VocabSize(), MaxLen: *maxLen, PadID: tok.Padding(), EOSID: tok.EOS(),
		ByLang: map[string]int{}, Corpus: files}
	offsets := []uint32{0}
	var ids []int32
	var mask []uint8
	err = eachExample(ctx, files, func(e *corpus.Example) error {
		start := len(ids)
		ids, mask, err = tokenizeExample(tok, e, ids, mask)
		if err != nil {
			return err
		}
		// The decoded tokens must give back the text, control tokens
		// aside: a check that tokenization loses nothing.
		want := e.Prompt() + e.Completion
		for _, s := range []string{npc.ImStart, npc.ImEnd, npc.EndOfText} {
			want = strings.ReplaceAll(want, s, "")
		}
		if got := tok.Decode(ids[start:]); got != want {
			return fmt.Errorf("example %s does not round-trip through the tokenizer", e.ID)
		}
		n := len(ids) - start
		if n > *maxLen {
			ids, mask = ids[:start], mask[:start]
			h.Dropped++
			return nil
		}
		if len(ids) > math.MaxUint32 {
			return errors.New("token file over 4G tokens")
		}
		h.Longest = max(h.Longest, n)
		h.ByLang[string(e.Lang)]++
		offsets = append(offsets, uint32(len(ids)))
		return nil
	})
	if err != nil {
		return err
	}
	h.Sequences, h.Tokens = len(offsets)-1, len(ids)
	for _, m := range mask {
		if m > 0 {
			h.LossTokens++
		}
		if m == 2 {
			h.KeyTokens++
		}
	}
	bw := bytes.NewBuffer(make([]byte, 0, 4*len(offsets)+3*len(ids)))
	binary.Write(bw, binary.LittleEndian, offsets)
	u16 := make([]uint16, len(ids))
	for i, id := range ids {
		u16[i] = uint16(id)
	}
	binary.Write(bw, binary.LittleEndian, u16)
	bw.Write(mask)
	if err := os.WriteFile(*out+".bin", bw.Bytes(), 0o644); err != nil {
		return err
	}
	hj, _ := json.MarshalIndent(h, "", "  ")
	if err := os.WriteFile(*out+".json", append(hj, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "tokenize: %d sequences, %d tokens (%d with loss, %d of them key tokens), longest %d, %d dropped over %d → %s.bin\n",
		h.Sequences, h.Tokens, h.LossTokens, h.KeyTokens, h.Longest, h.Dropped, *maxLen, *out)
	return nil
}

// WeightIndex is the index train.py writes beside its weight blobs: the
// model's hyper-parameters and, per tensor, its GGUF name and shape
// (innermost dimension first, as GGUF lists it) and where its raw
// little-endian values lie.
type WeightIndex struct {
	Format  string        `json:"format"`
	Config  WeightConfig  `json:"config"`
	Tensors []WeightEntry `json:"tensors"`
}

// WeightConfig holds the qwen3moe hyper-parameters.
type WeightConfig struct {
	Arch        string  `json:"arch"`
	Vocab       int     `json:"vocab"`
	Dim         int     `json:"dim"`
	Layers      int     `json:"layers"`
	Heads       int     `json:"heads"`
	KVHeads     int     `json:"kv_heads"`
	HeadDim     int     `json:"head_dim"`
	Experts     int     `json:"experts"`
	ExpertsUsed int     `json:"experts_used"`
	ExpertFFN   int     `json:"expert_ffn"`
	RopeBase    float64 `json:"rope_base"`
	Eps         float64 `json:"eps"`
	Context     int     `json:"context"`
}

// WeightEntry locates one tensor.
type WeightEntry struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	DType  string `json:"dtype"` // "f32" or "f16"
	File   string `json:"file"`
	Offset int64  `json:"offset"`
}

const weightFormat = "anima-weights/1"

// maxWeightFile bounds one blob file; train.py splits at 15 MiB.
const maxWeightFile = 1 << 30

// expectedShapes lists every tensor a qwen3moe of cfg has, with its GGUF
// shape: matrices {in, out}, expert stacks {in, out, experts}.
func expectedShapes(c WeightConfig) map[string][]int {
	q, kv := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	m := map[string][]int{
		"token_embd.weight":  {c.Dim, c.Vocab},
		"output_norm.weight": {c.Dim},
		"output.weight":      {c.Dim, c.Vocab},
	}
	for l := range c.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		m[p+"attn_norm.weight"] = []int{c.Dim}
		m[p+"attn_q.weight"] = []int{c.Dim, q}
		m[p+"attn_k.weight"] = []int{c.Dim, kv}
		m[p+"attn_v.weight"] = []int{c.Dim, kv}
		m[p+"attn_output.weight"] = []int{q, c.Dim}
		m[p+"attn_q_norm.weight"] = []int{c.HeadDim}
		m[p+"attn_k_norm.weight"] = []int{c.HeadDim}
		m[p+"ffn_norm.weight"] = []int{c.Dim}
		m[p+"ffn_gate_inp.weight"] = []int{c.Dim, c.Experts}
		m[p+"ffn_gate_exps.weight"] = []int{c.Dim, c.ExpertFFN, c.Experts}
		m[p+"ffn_up_exps.weight"] = []int{c.Dim, c.ExpertFFN, c.Experts}
		m[p+"ffn_down_exps.weight"] = []int{c.ExpertFFN, c.Dim, c.Experts}
	}
	return m
}

// checkConfig bounds every size before anything is allocated from it.
func checkConfig(c WeightConfig) error {
	in := func(v, lo, hi int) bool { return v >= lo && v <= hi }
	switch {
	case c.Arch != "qwen3moe":
		return fmt.Errorf("config: arch %q; want qwen3moe", c.Arch)
	case !in(c.Vocab, 1, 1<<20) || !in(c.Dim, 1, 1<<14) || !in(c.Layers, 1, 256) || !in(c.Heads, 1, 256) ||
		!in(c.KVHeads, 1, c.Heads) || !in(c.HeadDim, 2, 1024) || !in(c.Experts, 1, 1024) ||
		!in(c.ExpertsUsed, 1, c.Experts) || !in(c.ExpertFFN, 1, 1<<16) || !in(c.Context, 1, 1<<20):
		return fmt.Errorf("config: sizes out of range: %+v", c)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("config: %d heads not a multiple of %d kv heads", c.Heads, c.KVHeads)
	case !(c.RopeBase > 0) || !(c.Eps > 0 && c.Eps < 1):
		return fmt.Errorf("config: rope_base %g or eps %g out of range", c.RopeBase, c.Eps)
	}
	return nil
}

// loadWeights reads index.json in dir and every tensor it names as float32,
// checking names, shapes and extents against the config.
func loadWeights(dir string) (*WeightIndex, map[string][]float32, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, nil, err
	}
	var idx WeightIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, "index.json"), err)
	}
	if idx.Format != weightFormat {
		return nil, nil, fmt.Errorf("index.json: format %q; want %q", idx.Format, weightFormat)
	}
	if err := checkConfig(idx.Config); err != nil {
		return nil, nil, fmt.Errorf("index.json: %w", err)
	}
	want := expectedShapes(idx.Config)
	blobs := map[string][]byte{}
	out := map[string][]float32{}
	for _, t := range idx.Tensors {
		shape, ok := want[t.Name]
		if !ok {
			return nil, nil, fmt.Errorf("index.json: unexpected tensor %q", t.Name)
		}
		if fmt.Sprint(shape) != fmt.Sprint(t.Shape) {
			return nil, nil, fmt.Errorf("index.json: tensor %q has shape %v; want %v", t.Name, t.Shape, shape)
		}
		if _, dup := out[t.Name]; dup {
			return nil, nil, fmt.Errorf("index.json: tensor %q listed twice", t.Name)
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		size := map[string]int{"f32": 4, "f16": 2}[t.DType]
		if size == 0 {
			return nil, nil, fmt.Errorf("index.json: tensor %q has dtype %q; want f32 or f16", t.Name, t.DType)
		}
		if t.File != filepath.Base(t.File) || t.File == "" {
			return nil, nil, fmt.Errorf("index.json: tensor %q: file %q must be a plain name in the same folder", t.Name, t.File)
		}
		blob, ok := blobs[t.File]
		if !ok {
			p := filepath.Join(dir, t.File)
			st, err := os.Stat(p)
			if err != nil {
				return nil, nil, err
			}
			if st.Size() > maxWeightFile {
				return nil, nil, fmt.Errorf("%s: %d bytes is more than a weight file may hold", p, st.Size())
			}
			if blob, err = os.ReadFile(p); err != nil {
				return nil, nil, err
			}
			blobs[t.File] = blob
		}
		if t.Offset < 0 || t.Offset > int64(len(blob)) || int64(len(blob))-t.Offset < int64(n*size) {
			return nil, nil, fmt.Errorf("index.json: tensor %q: %d bytes at offset %d overrun %s (%d bytes)", t.Name, n*size, t.Offset, t.File, len(blob))
		}
		raw := blob[t.Offset : t.Offset+int64(n*size)]
		v := make([]float32, n)
		for i := range v {
			if size == 4 {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			} else {
				v[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
			}
		}
		out[t.Name] = v
	}
	for name := range want {
		if _, ok := out[name]; !ok {
			return nil, nil, fmt.Errorf("index.json: tensor %q is missing", name)
		}
	}
	return &idx, out, nil
}

// exportTypes are the GGUF file types the exporter writes, with
// general.file_type's value for each (llama.cpp's llama_ftype).
var exportTypes = map[string]struct {
	typ   tensor.Type
	ftype uint32
}{
	"f32":  {tensor.F32, 0},
	"f16":  {tensor.F16, 1},
	"q8_0": {tensor.Q8_0, 7},
}

// exportGGUF builds the GGUF writer for the weights in dir with the
// tokenizer metadata tokKVs, matrices encoded as typ ("f32", "f16",
// "q8_0"); norms and the expert router stay F32, as llama.cpp's quantizer
// leaves them.
func exportGGUF(dir string, tokKVs []gguf.KV, typ, name string) (*gguf.Writer, error) {
	et, ok := exportTypes[typ]
	if !ok {
		return nil, fmt.Errorf("export type %q; want f32, f16 or q8_0", typ)
	}
	idx, weights, err := loadWeights(dir)
	if err != nil {
		return nil, err
	}
	c := idx.Config
	var vocab int
	for _, kv := range tokKVs {
		if kv.Key == tokenizer.KeyTokens {
			if toks, ok := kv.Value.([]string); ok {
				vocab = len(toks)
			}
		}
	}
	if vocab != c.Vocab {
		return nil, fmt.Errorf("the tokenizer has %d tokens but the weights a vocabulary of %d", vocab, c.Vocab)
	}
	w := gguf.NewWriter()
	a := c.Arch
	u := func(n int) uint32 { return uint32(n) }
	w.Set("general.architecture", a)
	w.Set("general.name", name)
	w.Set("general.file_type", et.ftype)
	w.Set("general.quantization_version", uint32(2))
	w.Set(a+".context_length", u(c.Context))
	w.Set(a+".embedding_length", u(c.Dim))
	w.Set(a+".block_count", u(c.Layers))
	w.Set(a+".feed_forward_length", u(c.ExpertFFN))
	w.Set(a+".attention.head_count", u(c.Heads))
	w.Set(a+".attention.head_count_kv", u(c.KVHeads))
	w.Set(a+".attention.key_length", u(c.HeadDim))
	w.Set(a+".attention.value_length", u(c.HeadDim))
	w.Set(a+".rope.freq_base", float32(c.RopeBase))
	w.Set(a+".attention.layer_norm_rms_epsilon", float32(c.Eps))
	w.Set(a+".expert_count", u(c.Experts))
	w.Set(a+".expert_used_count", u(c.ExpertsUsed))
	w.Set(a+".expert_feed_forward_length", u(c.ExpertFFN))
	w.Set(a+".vocab_size", u(c.Vocab))
	for _, kv := range tokKVs {
		w.Set(kv.Key, kv.Value)
	}
	shapes := expectedShapes(c)
	add := func(n string) {
		t := et.typ
		if len(shapes[n]) == 1 || strings.HasSuffix(n, "ffn_gate_inp.weight") {
			t = tensor.F32
		}
		w.AddFloat32(n, t, shapes[n], weights[n])
	}
	add("token_embd.weight")
	add("output_norm.weight")
	add("output.weight")
	for l := range c.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		for _, n := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_norm", "attn_k_norm",
			"ffn_norm", "ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"} {
			add(p + n + ".weight")
		}
	}
	if err := w.Err(); err != nil {
		return nil, err
	}
	return w, nil
}

func runTrainExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train export", flag.ContinueOnError)
	dir := fs.String("weights", "weights", "folder with index.json and the weight blobs from train.py")
	tokPath := fs.String("tokenizer", "tokenizer.gguf", "tokenizer GGUF (from anima train tokenizer)")
	typ := fs.String("type", "q8_0", "matrix type: f32, f16 or q8_0")
	name := fs.String("name", "anima-npc", "general.name")
	out := fs.String("o", "model.gguf", "output GGUF file")
	format := fs.String("prompt-format", "id-first", "the prompt layout the corpus was made with (anima corpus -prompt-format), recorded as "+npc.PromptFormatKey+" so that the runtime renders the same")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pf, err := npc.ParsePromptFormat(*format)
	if err != nil {
		return fmt.Errorf("-prompt-format: %w", err)
	}
	_, kvs, err := openTokenizer(*tokPath)
	if err != nil {
		return err
	}
	w, err := exportGGUF(*dir, kvs, *typ, *name)
	if err != nil {
		return err
	}
	if pf != npc.IDFirst {
		// A file without the key is id-first by definition, so the
		// default export stays byte for byte what it was.
		w.Set(npc.PromptFormatKey, pf.String())
	}
	if err := w.WriteFile(*out); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "export: %s, %s, %.1f MiB\n", *out, *typ, float64(st.Size())/(1<<20))
	return nil
}
