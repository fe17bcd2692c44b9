package gguf

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; whatever it
// accepts must have in-bounds tensors and must survive a rewrite with Writer
// unchanged.
func FuzzParse(f *testing.F) {
	data, _ := buildSample(f, 0)
	f.Add(data)
	aligned, _ := buildSample(f, 64)
	f.Add(aligned[:200])
	f.Add(new(raw).header(3, 2, 0).tinfo("a", 0, 0, 16).tinfo("b", 0, 32, 16).data(32, 128).Bytes())
	f.Add(new(raw).header(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1).u32(uint32(TypeString)).u64(1).str("x").Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		pf := checkParsed(t, data)
		if pf == nil {
			return
		}
		w := NewWriter()
		for _, kv := range pf.KVs() {
			if err := w.Set(kv.Key, kv.Value); err != nil {
				t.Fatalf("rewriting key %q: %v", kv.Key, err)
			}
		}
		for _, info := range pf.Tensors() {
			tt, _ := pf.Tensor(info.Name)
			if len(info.Name) > MaxNameLen {
				return // valid GGUF, but llama.cpp's limit keeps Writer from copying it
			}
			if err := w.AddTensor(info.Name, info.Type, info.Shape, tt.Data); err != nil {
				t.Fatalf("rewriting tensor %q: %v", info.Name, err)
			}
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		// %#v rather than DeepEqual: NaN values must compare equal.
		if fmt.Sprintf("%#v", again.KVs()) != fmt.Sprintf("%#v", pf.KVs()) {
			t.Fatalf("metadata changed in rewrite")
		}
		for _, info := range pf.Tensors() {
			a, _ := pf.Tensor(info.Name)
			b, err := again.Tensor(info.Name)
			if err != nil || !bytes.Equal(a.Data, b.Data) || !reflect.DeepEqual(a.Shape, b.Shape) {
				t.Fatalf("tensor %q changed in rewrite: %v", info.Name, err)
			}
		}
	})
}
