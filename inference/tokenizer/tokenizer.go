// Package tokenizer turns text into token ids and back for GGUF models, built
// from the tokenizer.ggml.* metadata as llama.cpp reads it: byte-level BPE
// (tokenizer.ggml.model = "gpt2", with the GPT-2, Qwen2 and Llama 3
// pre-tokenizer splits) and SentencePiece-style score merging ("llama").
//
// Text from players is never trusted: Encode treats every string, including
// "<|im_end|>", as plain text; only EncodeSpecial, for prompt templates the
// program itself writes, turns special-token strings into their ids.
package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/anima-rt/anima/inference/gguf"
)

// Token types, as stored in tokenizer.ggml.token_type (llama.cpp's
// llama_token_type).
const (
	TypeNormal      = 1
	TypeUnknown     = 2
	TypeControl     = 3
	TypeUserDefined = 4
	TypeUnused      = 5
	TypeByte        = 6
)

// Metadata keys read by New.
const (
	KeyModel          = "tokenizer.ggml.model"
	KeyPre            = "tokenizer.ggml.pre"
	KeyTokens         = "tokenizer.ggml.tokens"
	KeyTokenType      = "tokenizer.ggml.token_type"
	KeyScores         = "tokenizer.ggml.scores"
	KeyMerges         = "tokenizer.ggml.merges"
	KeyBOS            = "tokenizer.ggml.bos_token_id"
	KeyEOS            = "tokenizer.ggml.eos_token_id"
	KeyEOT            = "tokenizer.ggml.eot_token_id"
	KeyEOM            = "tokenizer.ggml.eom_token_id"
	KeyUnknown        = "tokenizer.ggml.unknown_token_id"
	KeyPadding        = "tokenizer.ggml.padding_token_id"
	KeyAddBOS         = "tokenizer.ggml.add_bos_token"
	KeyAddEOS         = "tokenizer.ggml.add_eos_token"
	KeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
	KeyChatTemplate   = "tokenizer.chat_template"
)

// eogTexts is logically constant: control tokens that end a generation turn
// whatever the eos id says, as llama.cpp also treats them (a chat model's
// eos is often <|endoftext|> while turns end with <|im_end|>).
var eogTexts = map[string]bool{
	"<|im_end|>": true, "<|endoftext|>": true, "<|eot_id|>": true, "<|eom_id|>": true,
	"<|end|>": true, "<end_of_turn>": true, "<|return|>": true, "<|call|>": true,
	"<EOT>": true, "<|end_of_text|>": true,
}

// Tokenizer encodes and decodes text for one vocabulary. It is safe for
// concurrent use.
type Tokenizer struct {
	model  string   // "gpt2" or "llama"
	tokens []string // id → text as stored (byte-level BPE tokens are in GPT-2's byte alphabet)
	types  []int32  // id → Type*
	ids    map[string]int32

	bos, eos, unk, pad int32 // -1 when absent
	eog                map[int32]bool
	addBOS, addEOS     bool
	chatTemplate       string

	// specials are the control and user-defined tokens EncodeSpecial
	// matches, indexed by first byte, longest first so that a prefix never
	// shadows a longer token.
	specials [256][]special

	bpe *bpe // for model "gpt2"
	spm *spm // for model "llama"

	// cache holds the ids of recently encoded pre-token words; mu guards it.
	mu    sync.Mutex
	cache map[string][]int32
}

type special struct {
	text string
	id   int32
}

// maxCacheWords bounds the per-word cache; it is cleared when full, which
// costs a few re-merges and keeps memory flat whatever text arrives.
const maxCacheWords = 1 << 15

// New builds the tokenizer a GGUF file describes.
func New(f *gguf.File) (*Tokenizer, error) {
	t, err := build(f)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

func build(f *gguf.File) (*Tokenizer, error) {
	model, err := f.String(KeyModel)
	if err != nil {
		return nil, err
	}
	tokens, err := f.Strings(KeyTokens)
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("key %q: empty vocabulary", KeyTokens)
	}
	if len(tokens) > 1<<30 {
		return nil, fmt.Errorf("key %q: %d tokens is too many", KeyTokens, len(tokens))
	}
	t := &Tokenizer{
		model:  model,
		tokens: tokens,
		ids:    make(map[string]int32, len(tokens)),
		eog:    map[int32]bool{},
		cache:  map[string][]int32{},
	}
	t.types, err = optional(f.Int32s(KeyTokenType))
	if err != nil {
		return nil, err
	}
	if t.types == nil {
		t.types = make([]int32, len(tokens))
		for i := range t.types {
			t.types[i] = TypeNormal
		}
	}
	if len(t.types) != len(tokens) {
		return nil, fmt.Errorf("key %q has %d entries for %d tokens", KeyTokenType, len(t.types), len(tokens))
	}
	for i, s := range tokens {
		t.ids[s] = int32(i) // a later duplicate wins, as in llama.cpp
	}

	// Defaults follow llama.cpp: SentencePiece vocabularies put <unk>, <s>
	// and </s> at 0, 1 and 2 and want a BOS; BPE ones say what they need.
	t.bos, t.eos, t.unk, t.pad = -1, -1, -1, -1
	switch model {
	case "gpt2":
		t.addBOS = false
	case "llama":
		t.bos, t.eos, t.unk = 1, 2, 0
		t.addBOS = true
	default:
		return nil, fmt.Errorf("key %q: tokenizer model %q is not supported (want gpt2 or llama)", KeyModel, model)
	}
	for _, s := range []struct {
		key string
		dst *int32
	}{{KeyBOS, &t.bos}, {KeyEOS, &t.eos}, {KeyUnknown, &t.unk}, {KeyPadding, &t.pad}} {
		if err := t.readID(f, s.key, s.dst); err != nil {
			return nil, err
		}
	}
	if t.unk >= int32(len(tokens)) {
		t.unk = -1 // a defaulted id past a tiny vocabulary
	}
	if t.bos >= int32(len(tokens)) {
		t.bos = -1
	}
	if t.eos >= int32(len(tokens)) {
		t.eos = -1
	}
	eot, eom := int32(-1), int32(-1)
	if err := t.readID(f, KeyEOT, &eot); err != nil {
		return nil, err
	}
	if err := t.readID(f, KeyEOM, &eom); err != nil {
		return nil, err
	}
	for _, id := range []int32{t.eos, eot, eom} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	for i, s := range tokens {
		if t.types[i] == TypeControl && eogTexts[s] {
			t.eog[int32(i)] = true
		}
	}
	if b, err := optional(f.Bool(KeyAddBOS)); err != nil {
		return nil, err
	} else if f.Has(KeyAddBOS) {
		t.addBOS = b
	}
	if t.addEOS, err = optional(f.Bool(KeyAddEOS)); err != nil {
		return nil, err
	}
	if t.chatTemplate, err = optional(f.String(KeyChatTemplate)); err != nil {
		return nil, err
	}

	for i, s := range tokens {
		if (t.types[i] == TypeControl || t.types[i] == TypeUserDefined) && s != "" {
			t.specials[s[0]] = append(t.specials[s[0]], special{s, int32(i)})
		}
	}
	for _, list := range t.specials {
		sort.SliceStable(list, func(a, b int) bool { return len(list[a].text) > len(list[b].text) })
	}

	switch model {
	case "gpt2":
		pre, err := optional(f.String(KeyPre))
		if err != nil {
			return nil, err
		}
		merges, err := optional(f.Strings(KeyMerges))
		if err != nil {
			return nil, err
		}
		if !f.Has(KeyMerges) {
			return nil, fmt.Errorf("key %q: %w (a gpt2 tokenizer needs its merges)", KeyMerges, gguf.ErrKeyNotFound)
		}
		if t.bpe, err = newBPE(t, pre, merges); err != nil {
			return nil, err
		}
	case "llama":
		scores, err := f.Float32s(KeyScores)
		if err != nil {
			return nil, err
		}
		if len(scores) != len(tokens) {
			return nil, fmt.Errorf("key %q has %d entries for %d tokens", KeyScores, len(scores), len(tokens))
		}
		addSpace := true
		if b, err := optional(f.Bool(KeyAddSpacePrefix)); err != nil {
			return nil, err
		} else if f.Has(KeyAddSpacePrefix) {
			addSpace = b
		}
		t.spm = newSPM(t, scores, addSpace)
	}
	return t, nil
}

// optional turns a missing key into the zero value.
func optional[T any](v T, err error) (T, error) {
	if errors.Is(err, gguf.ErrKeyNotFound) {
		var zero T
		return zero, nil
	}
	return v, err
}

// readID reads an optional token id key into dst, checking its range.
func (t *Tokenizer) readID(f *gguf.File, key string, dst *int32) error {
	if !f.Has(key) {
		return nil
	}
	id, err := f.Int64(key)
	if err != nil {
		return err
	}
	if id < 0 || id >= int64(len(t.tokens)) {
		if id == -1 || id == 0xFFFFFFFF { // "none", as some converters write it
			*dst = -1
			return nil
		}
		return fmt.Errorf("key %q: token id %d outside the %d-token vocabulary", key, id, len(t.tokens))
	}
	*dst = int32(id)
	return nil
}

// Model is tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama"
// (SentencePiece).
func (t *Tokenizer) Model() string { return t.model }

// VocabSize is the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS is the beginning-of-sequence id, or -1.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS is the end-of-sequence id, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// Unknown is the unknown-token id, or -1.
func (t *Tokenizer) Unknown() int32 { return t.unk }

// Padding is the padding id, or -1.
func (t *Tokenizer) Padding() int32 { return t.pad }

// AddBOS reports whether a prompt should start with BOS. Encode never adds
// it, because prompts are encoded in segments; whoever assembles the whole
// prompt prepends it once.
func (t *Tokenizer) AddBOS() bool { return t.addBOS && t.bos >= 0 }

// AddEOS reports whether the vocabulary asks for EOS after a prompt.
func (t *Tokenizer) AddEOS() bool { return t.addEOS && t.eos >= 0 }

// IsEOG reports whether id ends a generation: EOS, end-of-turn, or a
// control token such as <|im_end|>.
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// IsControl reports whether id is a control token (never printed by
// Decode).
func (t *Tokenizer) IsControl(id int32) bool {
	return id >= 0 && int(id) < len(t.types) && t.types[id] == TypeControl
}

// ChatTemplate is tokenizer.chat_template, the Jinja template the model was
// trained with, or "".
func (t *Tokenizer) ChatTemplate() string { return t.chatTemplate }

// TokenString returns the token's text as stored in the vocabulary (for
// byte-level BPE, in GPT-2's byte alphabet: " the" is "Ġthe"), or "" for an
// id outside it.
func (t *Tokenizer) TokenString(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenID returns the id of a token's stored text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.ids[text]
	return id, ok
}

// Encode tokenizes text as plain text: a special token's string in it, such
// as "<|im_end|>" typed by a player, becomes ordinary tokens. It adds no
// BOS (see AddBOS).
func (t *Tokenizer) Encode(text string) []int32 {
	return t.encodeText(nil, text, true)
}

// EncodeSpecial tokenizes text in which control and user-defined token
// strings ("<|im_start|>") stand for their tokens. Use it only for text the
// program wrote, never for anything a player typed.
func (t *Tokenizer) EncodeSpecial(text string) []int32 {
	var out []int32
	start := 0 // of the plain text not yet encoded
	first := true
	for i := 0; i < len(text); {
		s, ok := t.specialAt(text, i)
		if !ok {
			i++
			continue
		}
		if i > start {
			out = t.encodeText(out, text[start:i], first)
		}
		out = append(out, s.id)
		first = false
		i += len(s.text)
		start = i
		if t.spm != nil {
			first = true // llama.cpp re-adds the space prefix after a special token
		}
	}
	if start < len(text) {
		out = t.encodeText(out, text[start:], first)
	}
	return out
}

func (t *Tokenizer) specialAt(text string, i int) (special, bool) {
	for _, s := range t.specials[text[i]] {
		if strings.HasPrefix(text[i:], s.text) {
			return s, true
		}
	}
	return special{}, false
}

// encodeText encodes a fragment with no special tokens; first says whether
// the SentencePiece space prefix applies.
func (t *Tokenizer) encodeText(out []int32, text string, first bool) []int32 {
	if text == "" {
		return out
	}
	if t.bpe != nil {
		return t.bpe.encode(out, text)
	}
	return t.spm.encode(out, text, first)
}

// Decode returns the text of ids. Control tokens (BOS, <|im_end|>, ...)
// are omitted; byte-level tokens are joined as bytes, so a sequence cut in
// the middle of a character yields invalid UTF-8 at its end (Decoder holds
// such bytes back when streaming).
func (t *Tokenizer) Decode(ids []int32) string {
	d := t.NewDecoder()
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(d.bytes(id))
	}
	return b.String()
}
