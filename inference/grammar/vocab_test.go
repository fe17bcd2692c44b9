package grammar

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// spmTokenizer is a SentencePiece tokenizer written as real GGUF metadata:
// <unk>, <s>, </s>, the 256 byte tokens, then a few pieces.
func spmTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{tokenizer.TypeUnknown, tokenizer.TypeControl, tokenizer.TypeControl}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, tokenizer.TypeByte)
	}
	pieces := []string{"▁", "▁hello", "hello", "{\"", "\":\"", "\"}", "say", "▁there", "가"}
	scores := make([]float32, len(tokens)+len(pieces))
	for i := range pieces {
		types = append(types, tokenizer.TypeNormal)
		scores[len(tokens)+i] = float32(len(pieces[i]))
	}
	tokens = append(tokens, pieces...)
	w := gguf.NewWriter()
	for _, kv := range []gguf.KV{
		{Key: tokenizer.KeyModel, Value: "llama"},
		{Key: tokenizer.KeyTokens, Value: tokens},
		{Key: tokenizer.KeyTokenType, Value: types},
		{Key: tokenizer.KeyScores, Value: scores},
		{Key: tokenizer.KeyEOS, Value: uint32(2)},
		{Key: tokenizer.KeyAddSpacePrefix, Value: true},
	} {
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
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestFromTokenizerSentencePiece(t *testing.T) {
	tok := spmTokenizer(t)
	v, err := FromTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) int32 {
		n, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		return n
	}
	tests := []struct {
		piece string
		want  string
	}{
		{"▁hello", " hello"}, // mid-text: the space stays
		{"hello", "hello"},
		{"<0x7B>", "{"},
		{"가", "가"},
		{"<s>", ""},
		{"</s>", ""},
	}
	for _, tt := range tests {
		if got := string(v.Token(id(tt.piece))); got != tt.want {
			t.Errorf("Token(%q) = %q; want %q", tt.piece, got, tt.want)
		}
	}
	if !v.isEOG(id("</s>")) || v.stop != id("</s>") {
		t.Errorf("end tokens %v, stop %d; want </s> (%d)", v.eog, v.stop, id("</s>"))
	}
	schema := `{"type":"object","properties":{"say":{"type":"string","maxLength":20}},"required":["say"]}`
	g, err := Compile([]byte(schema), v)
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	rng := rand.New(rand.NewPCG(5, 5))
	for range 200 {
		out, streamed, _, _ := walk(t, g, m, rng, 1+rng.IntN(20), "say")
		if got := checkOutput(t, schema, out); got.field("say").s != string(streamed) {
			t.Fatalf("streamed %q; output %q", streamed, out)
		}
	}
}

func TestFromTokenizerByteLevelBPE(t *testing.T) {
	tok := referenceTokenizer(t)
	v, err := FromTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	the, ok := tok.TokenID("Ġthe")
	if !ok {
		t.Fatal(`no "Ġthe" in the reference vocabulary`)
	}
	if got := string(v.Token(the)); got != " the" {
		t.Errorf(`Token("Ġthe") = %q; want " the"`, got)
	}
	if len(v.eog) == 0 || !tok.IsEOG(v.stop) {
		t.Errorf("stop %d, end tokens %v; want an end-of-generation stop", v.stop, v.eog)
	}
}

func TestNewVocabErrors(t *testing.T) {
	toks := [][]byte{[]byte("a"), nil}
	tests := []struct {
		name   string
		tokens [][]byte
		eog    []int32
		stop   int32
	}{
		{"empty", nil, nil, 0},
		{"eog outside", toks, []int32{2}, 2},
		{"stop not an eog", toks, []int32{1}, 0},
	}
	for _, tt := range tests {
		if _, err := NewVocab(tt.tokens, tt.eog, tt.stop, nil); err == nil {
			t.Errorf("NewVocab(%s) = nil error; want one", tt.name)
		}
	}
}
