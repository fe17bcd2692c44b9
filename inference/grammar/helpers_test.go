package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/inference/tokenizer"
)

// referencePath is the llama.cpp-converted model shared by the decoder work;
// its vocabulary is GPT-2's first 4,096 tokens.
var referencePath = filepath.Join("..", "..", "..", "shared", "reference", "qwen3moe-tiny-f32.gguf")

func referenceTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	if _, err := os.Stat(referencePath); err != nil {
		t.Skipf("reference model not present (%v): it lives in ../shared/reference beside the repository", err)
	}
	f, err := gguf.Open(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func referenceVocab(t testing.TB) *Vocab {
	v, err := FromTokenizer(referenceTokenizer(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// smallVocab is a byte-level vocabulary made in the test: every single
// byte, as byte-level BPE has, plus JSON scaffolding, words, escapes, and
// Hangul and emoji pieces that split characters across tokens. The last
// two ids are <|endoftext|> and <|im_end|>, both ending a generation.
func smallVocab(t testing.TB) *Vocab {
	t.Helper()
	var toks [][]byte
	for b := 0; b < 256; b++ {
		toks = append(toks, []byte{byte(b)})
	}
	for _, s := range []string{
		`{"`, `":"`, `","`, `"}`, `"},"`, `":{"`, `":`, `,"`, `},"`, `"]`, `["`, `":[`, `],"`, `}}`,
		"emotion", "action", "name", "target", "say", "item", "wary", "calm", "angry", "fol", "follow",
		"low", "flee", "idle", "give", "player", "_1", "guard", "_2", "bread", "null", "true", "false",
		" the", " bridge", " is", " not", " safe", "Stay", " close", ".", "!", "?", " ", "  ",
		`\"`, `\n`, `\\`, `\u`, `d83d`, `\ude00`, `\ud83d`, `ac00`,
		"안녕", "하세요", "\xec\x95", "\x88\xeb\x85\x95", "다리", "😀", "\xf0\x9f", "\x98\x80",
		"0", "12", "345", "-", ".5", "100", "99",
	} {
		toks = append(toks, []byte(s))
	}
	toks = append(toks, nil, nil) // control tokens
	eos, imEnd := int32(len(toks)-2), int32(len(toks)-1)
	v, err := NewVocab(toks, []int32{eos, imEnd}, imEnd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jv is a JSON value with object keys in order, decoded independently of
// the package so the validator checks the grammar rather than itself.
type jv struct {
	kind  string // object, array, string, number, boolean, null
	s     string
	n     json.Number
	b     bool
	keys  []string
	vals  []*jv
	items []*jv
}

func decodeJV(data []byte) (*jv, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeNext(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

func decodeNext(dec *json.Decoder) (*jv, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case json.Delim:
		if x == '{' {
			v := &jv{kind: "object"}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				c, err := decodeNext(dec)
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, k.(string))
				v.vals = append(v.vals, c)
			}
			_, err := dec.Token()
			return v, err
		}
		v := &jv{kind: "array"}
		for dec.More() {
			c, err := decodeNext(dec)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, c)
		}
		_, err := dec.Token()
		return v, err
	case string:
		return &jv{kind: "string", s: x}, nil
	case json.Number:
		return &jv{kind: "number", n: x}, nil
	case bool:
		return &jv{kind: "boolean", b: x}, nil
	}
	return &jv{kind: "null"}, nil
}

func (v *jv) field(k string) *jv {
	for i, key := range v.keys {
		if key == k {
			return v.vals[i]
		}
	}
	return nil
}

func rat(n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		panic("bad number " + n)
	}
	return r
}

func equalJV(a, b *jv) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case "string":
		return a.s == b.s
	case "number":
		return rat(a.n).Cmp(rat(b.n)) == 0
	case "boolean":
		return a.b == b.b
	case "array":
		if len(a.items) != len(b.items) {
			return false
		}
		for i := range a.items {
			if !equalJV(a.items[i], b.items[i]) {
				return false
			}
		}
		return true
	case "object":
		if len(a.keys) != len(b.keys) {
			return false
		}
		for i := range a.keys {
			if a.keys[i] != b.keys[i] || !equalJV(a.vals[i], b.vals[i]) {
				return false
			}
		}
	}
	return true
}

// validate checks v against schema s (root for $ref), including the
// grammar's promise that object keys follow the order of properties.
func validate(root, s, v *jv) error {
	if ref := s.field("$ref"); ref != nil {
		target := root
		for _, part := range bytes.Split([]byte(ref.s[2:]), []byte("/")) {
			target = target.field(string(part))
		}
		return validate(root, target, v)
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts := s.field(key); alts != nil {
			n := 0
			var errs []error
			for _, a := range alts.items {
				if err := validate(root, a, v); err == nil {
					n++
				} else {
					errs = append(errs, err)
				}
			}
			if n == 0 {
				return fmt.Errorf("no %s variant matches: %v", key, errs)
			}
			return nil
		}
	}
	if c := s.field("const"); c != nil && !equalJV(c, v) {
		return fmt.Errorf("not the const")
	}
	if e := s.field("enum"); e != nil {
		ok := false
		for _, it := range e.items {
			ok = ok || equalJV(it, v)
		}
		if !ok {
			return fmt.Errorf("not in enum")
		}
	}
	t := s.field("type")
	if t == nil {
		return nil
	}
	types := []string{t.s}
	if t.kind == "array" {
		types = nil
		for _, it := range t.items {
			types = append(types, it.s)
		}
	}
	var errs []error
	for _, ty := range types {
		err := validateType(root, s, ty, v)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%v", errs)
}

func num(s *jv, key string) *big.Rat {
	if f := s.field(key); f != nil {
		return rat(f.n)
	}
	return nil
}

func validateType(root, s *jv, ty string, v *jv) error {
	switch ty {
	case "null", "boolean", "string", "array", "object":
		if v.kind != ty {
			return fmt.Errorf("%s is not %s", v.kind, ty)
		}
	case "integer", "number":
		if v.kind != "number" {
			return fmt.Errorf("%s is not %s", v.kind, ty)
		}
		if ty == "integer" {
			if _, err := strconv.ParseInt(string(v.n), 10, 64); err != nil {
				return fmt.Errorf("%s is not an integer", v.n)
			}
		}
		x := rat(v.n)
		if m := num(s, "minimum"); m != nil && x.Cmp(m) < 0 {
			return fmt.Errorf("%s < minimum", v.n)
		}
		if m := num(s, "maximum"); m != nil && x.Cmp(m) > 0 {
			return fmt.Errorf("%s > maximum", v.n)
		}
		if m := num(s, "exclusiveMinimum"); m != nil && x.Cmp(m) <= 0 {
			return fmt.Errorf("%s <= exclusiveMinimum", v.n)
		}
		if m := num(s, "exclusiveMaximum"); m != nil && x.Cmp(m) >= 0 {
			return fmt.Errorf("%s >= exclusiveMaximum", v.n)
		}
	}
	switch ty {
	case "string":
		n := int64(utf8.RuneCountInString(v.s))
		if m := num(s, "maxLength"); m != nil && n > m.Num().Int64() {
			return fmt.Errorf("string of %d runes > maxLength", n)
		}
		if m := num(s, "minLength"); m != nil && n < m.Num().Int64() {
			return fmt.Errorf("string of %d runes < minLength", n)
		}
	case "array":
		n := int64(len(v.items))
		if m := num(s, "maxItems"); m != nil && n > m.Num().Int64() {
			return fmt.Errorf("%d items > maxItems", n)
		}
		if m := num(s, "minItems"); m != nil && n < m.Num().Int64() {
			return fmt.Errorf("%d items < minItems", n)
		}
		for i, it := range v.items {
			if err := validate(root, s.field("items"), it); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case "object":
		props := s.field("properties")
		if props == nil {
			props = &jv{kind: "object"}
		}
		at := 0 // keys must come in the order of properties
		for i, k := range v.keys {
			for at < len(props.keys) && props.keys[at] != k {
				at++
			}
			if at == len(props.keys) {
				return fmt.Errorf("key %q unknown or out of order", k)
			}
			if err := validate(root, props.vals[at], v.vals[i]); err != nil {
				return fmt.Errorf(".%s: %w", k, err)
			}
			at++
		}
		if r := s.field("required"); r != nil {
			for _, k := range r.items {
				if v.field(k.s) == nil {
					return fmt.Errorf("missing required %q", k.s)
				}
			}
		}
	}
	return nil
}

// checkOutput parses out as JSON, checks it is compact, and validates it.
func checkOutput(t testing.TB, schema string, out []byte) *jv {
	t.Helper()
	root, err := decodeJV([]byte(schema))
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	v, err := decodeJV(out)
	if err != nil {
		t.Fatalf("output %q does not parse: %v", out, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, out); err != nil || !bytes.Equal(compact.Bytes(), out) {
		t.Fatalf("output %q is not compact JSON", out)
	}
	if err := validate(root, root, v); err != nil {
		t.Fatalf("output %q does not validate: %v", out, err)
	}
	return v
}
