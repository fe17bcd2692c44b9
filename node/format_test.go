package node_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/gguf"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc"
)

// fileWith is a GGUF file holding only key = v (no key when v is nil).
func fileWith(t *testing.T, v any) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	w.Set("general.architecture", "qwen3moe")
	if v != nil {
		w.Set(npc.PromptFormatKey, v)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A model says which prompt layout it learnt; one that says nothing (every
// model made before the key, and models from elsewhere) learnt id-first.
func TestPromptFormatComesFromTheModel(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want npc.PromptFormat
	}{{nil, npc.IDFirst}, {"id-first", npc.IDFirst}, {"name-first", npc.NameFirst}, {"id-last", npc.IDLast}, {"id-last-colon", npc.IDLastColon}, {"names", npc.Names}, {"id-last-recall", npc.IDLastRecall}} {
		got, err := node.PromptFormat(fileWith(t, tc.v))
		if err != nil || got != tc.want {
			t.Errorf("key %v: PromptFormat = %v, %v; want %v", tc.v, got, err, tc.want)
		}
	}
	for _, bad := range []any{"names-last", uint32(1)} {
		if _, err := node.PromptFormat(fileWith(t, bad)); err == nil || !strings.Contains(err.Error(), npc.PromptFormatKey) {
			t.Errorf("key %v: error %v, want one naming %s", bad, err, npc.PromptFormatKey)
		}
	}
}

// The embedded model was trained on id-last-recall prompts and says so; the node
// serves it that way.
func TestEmbeddedModelIsIDLastRecall(t *testing.T) {
	f, _, err := node.OpenModel("")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := node.PromptFormat(f); err != nil || got != npc.IDLastRecall {
		t.Errorf("embedded model: PromptFormat = %v, %v; want id-last-recall", got, err)
	}
}
