package gguf

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// raw assembles GGUF bytes by hand, so tests can write what Writer refuses.
type raw struct{ bytes.Buffer }

func (r *raw) u32(v uint32) *raw { binary.Write(r, binary.LittleEndian, v); return r }
func (r *raw) u64(v uint64) *raw { binary.Write(r, binary.LittleEndian, v); return r }
func (r *raw) str(s string) *raw { r.u64(uint64(len(s))); r.WriteString(s); return r }
func (r *raw) header(version uint32, ntensors, nkv uint64) *raw {
	r.WriteString("GGUF")
	return r.u32(version).u64(ntensors).u64(nkv)
}

// tinfo appends a tensor info.
func (r *raw) tinfo(name string, typ tensor.Type, offset uint64, dims ...uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(uint32(typ)).u64(offset)
}

// padTo pads with zeros to a multiple of a, then appends n data bytes.
func (r *raw) data(a, n int) *raw {
	for r.Len()%a != 0 {
		r.WriteByte(0)
	}
	r.Write(make([]byte, n))
	return r
}

func TestParseRejectsMalformedFiles(t *testing.T) {
	f32 := tensor.F32
	tests := []struct {
		name    string
		file    *raw
		wantErr string
	}{
		{"bad magic", new(raw).u32(0x4c4d4747), `magic "GGML"`},
		{"empty", new(raw), "not a GGUF file"},
		{"version 1", new(raw).header(1, 0, 0), "version 1 is not supported"},
		{"version 4", new(raw).header(4, 0, 0), "unsupported GGUF version 4"},
		{"big endian", new(raw).header(3<<24, 0, 0), "big-endian"},
		{"header cut", func() *raw { r := new(raw); r.WriteString("GGUF"); r.u32(3); r.u32(0); return r }(), "unexpected end of file"},
		{"absurd kv count", new(raw).header(3, 0, 1<<60), "metadata key count 1152921504606846976 cannot fit"},
		{"absurd tensor count", new(raw).header(3, 1<<62, 0), "tensor count 4611686018427387904 cannot fit"},
		{"absurd key length", new(raw).header(3, 0, 1).u64(1 << 50).u64(0), "metadata key 0: string length 1125899906842624 cannot fit"},
		{"absurd string value", new(raw).header(3, 0, 1).str("general.name").u32(uint32(TypeString)).u64(1 << 40), `key "general.name": string length 1099511627776 cannot fit`},
		{"absurd array length", new(raw).header(3, 0, 1).str("tokenizer.ggml.tokens").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1 << 61), `"tokenizer.ggml.tokens": array length 2305843009213693952 cannot fit`},
		{"array of u32 too long", new(raw).header(3, 0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeUint32)).u64(3).u32(1).u32(2), "array length 3 cannot fit in the 8 bytes left"},
		{"string array cut", new(raw).header(3, 0, 1).str("tok").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(2).str("a").u64(5).u32(0), `"tok": item 1: string length 5 cannot fit in the 4 bytes left`},
		{"unknown value type", new(raw).header(3, 0, 1).str("k").u32(13).u32(0), `key "k": unknown value type 13`},
		{"array of unknown type", new(raw).header(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(77).u64(0), `key "k": array of unknown value type 77`},
		{"deep nesting", func() *raw {
			r := new(raw).header(3, 0, 1).str("deep").u32(uint32(TypeArray))
			for range 20 {
				r.u32(uint32(TypeArray)).u64(1)
			}
			return r.u32(uint32(TypeUint8)).u64(0)
		}(), `"deep": item 0: item 0`},
		{"bad bool", new(raw).header(3, 0, 1).str("b").u32(uint32(TypeBool)).u32(2), `key "b": bool byte 2`},
		{"duplicate key", new(raw).header(3, 0, 2).str("a").u32(uint32(TypeUint32)).u32(1).str("a").u32(uint32(TypeUint32)).u32(1), `key "a" appears twice`},
		{"alignment type", new(raw).header(3, 0, 1).str(KeyAlignment).u32(uint32(TypeUint64)).u64(32), `"general.alignment" is uint64, want uint32`},
		{"alignment zero", new(raw).header(3, 0, 1).str(KeyAlignment).u32(uint32(TypeUint32)).u32(0), "0 is not a power of two"},
		{"alignment 48", new(raw).header(3, 0, 1).str(KeyAlignment).u32(uint32(TypeUint32)).u32(48), "48 is not a power of two"},
		{"five dims", new(raw).header(3, 1, 0).tinfo("t", f32, 0, 1, 1, 1, 1, 1).data(32, 4), `tensor "t": 5 dimensions`},
		{"zero dims", new(raw).header(3, 1, 0).tinfo("t", f32, 0).u64(0).data(32, 4), `tensor "t": 0 dimensions`},
		{"zero dim", new(raw).header(3, 1, 0).tinfo("t", f32, 0, 4, 0).data(32, 4), `tensor "t": dimension 1 is 0`},
		{"huge dim", new(raw).header(3, 1, 0).tinfo("t", f32, 0, 1<<62).data(32, 4), `tensor "t": dimension 0 is 4611686018427387904`},
		{"overflowing shape", new(raw).header(3, 1, 0).tinfo("t", tensor.I8, 0, 100, 100, 100, 100).data(32, 64), `tensor "t": shape [100 100]... has more elements`},
		{"size beyond file", new(raw).header(3, 1, 0).tinfo("t", f32, 0, 16, 16).data(32, 64), `tensor "t": shape [16 16] of F32 needs 1024 bytes, more than the 160-byte file`},
		{"unknown tensor type", new(raw).header(3, 1, 0).tinfo("t", tensor.Type(5), 0, 4).data(32, 16), `tensor "t": tensor: unknown type 5`},
		{"partial block", new(raw).header(3, 1, 0).tinfo("t", tensor.Q8_0, 0, 16).data(32, 34), `tensor "t": tensor: 16 values of Q8_0`},
		{"empty name", new(raw).header(3, 1, 0).tinfo("", f32, 0, 1).data(32, 4), "tensor 0: empty name"},
		{"duplicate tensor", new(raw).header(3, 2, 0).tinfo("t", f32, 0, 1).tinfo("t", f32, 32, 1).data(32, 64), `tensor "t" appears twice`},
		{"misaligned offset", new(raw).header(3, 1, 0).tinfo("t", f32, 4, 1).data(32, 64), `tensor "t": offset 4 is not a multiple of the alignment 32`},
		{"offset beyond file", new(raw).header(3, 1, 0).tinfo("blk.0.ffn_up_exps.weight", f32, 1<<40, 4).data(32, 16), `tensor "blk.0.ffn_up_exps.weight": 16 bytes at data offset 1099511627776 run past the end`},
		{"offset near max", new(raw).header(3, 1, 0).tinfo("t", f32, ^uint64(31), 4).data(32, 16), `tensor "t": 16 bytes at data offset 18446744073709551584 run past`},
		{"tensor cut", new(raw).header(3, 1, 0).tinfo("t", f32, 0, 8).data(32, 16), `tensor "t": 32 bytes at data offset 0 run past the end of the file (16 bytes of data)`},
		{"overlap", new(raw).header(3, 2, 0).tinfo("a", f32, 0, 16).tinfo("b", f32, 32, 16).data(32, 128), `tensor "b" at data offset 32 overlaps tensor "a"`},
		{"no data section", new(raw).header(3, 1, 0).tinfo("t", tensor.I8, 0, 1), "data section at offset"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.file.Bytes())
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Parse(%s) error = %v; want one containing %q", tt.name, err, tt.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "gguf: ") {
			t.Errorf("Parse(%s) error %q lacks the gguf: prefix", tt.name, err)
		}
	}
}

// TestParseAcceptsLenientLayouts: llama.cpp's writer packs tensors in order,
// but the format only asks for alignment, so out-of-order tensors, gaps,
// version 2 and files with no tensors and no data section are all read.
func TestParseAcceptsLenientLayouts(t *testing.T) {
	tests := []struct {
		name string
		file *raw
	}{
		{"version 2", new(raw).header(2, 1, 0).tinfo("t", tensor.F32, 0, 1).data(32, 4)},
		{"reversed order with gap", new(raw).header(3, 2, 0).tinfo("a", tensor.F32, 64, 2).tinfo("b", tensor.F32, 0, 8).data(32, 72)},
		{"no tensors", new(raw).header(3, 0, 1).str("k").u32(uint32(TypeUint8)).u32(7)},
		{"alignment 1", new(raw).header(3, 1, 1).str(KeyAlignment).u32(uint32(TypeUint32)).u32(1).tinfo("t", tensor.I8, 0, 3).data(1, 3)},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.file.Bytes()); err != nil {
			t.Errorf("Parse(%s) = %v; want success", tt.name, err)
		}
	}
}

// TestEveryTruncationFails cuts a valid file at every length: each prefix
// must be refused with an error, never a panic.
func TestEveryTruncationFails(t *testing.T) {
	data, _ := buildSample(t, 0)
	for n := range len(data) {
		if _, err := Parse(data[:n]); err == nil {
			t.Fatalf("Parse of the first %d of %d bytes succeeded; want an error", n, len(data))
		}
	}
}

// TestEveryByteFlipIsSafe flips each byte of the header and metadata: the
// result may parse (a changed value) or not, but must never panic, and any
// tensor it yields must lie inside the data.
func TestEveryByteFlipIsSafe(t *testing.T) {
	data, _ := buildSample(t, 0)
	f, _ := Parse(data)
	mut := make([]byte, len(data))
	for i := range int(f.DataOffset) {
		for _, x := range []byte{0xff, 0x80, 0x01} {
			copy(mut, data)
			mut[i] ^= x
			checkParsed(t, mut)
		}
	}
}

// checkParsed parses data and, if that succeeds, checks every tensor view.
func checkParsed(t testing.TB, data []byte) *File {
	f, err := Parse(data)
	if err != nil {
		if !strings.HasPrefix(err.Error(), "gguf: ") {
			t.Fatalf("error %q lacks the gguf: prefix", err)
		}
		return nil
	}
	for _, info := range f.Tensors() {
		tt, err := f.Tensor(info.Name)
		if err != nil {
			t.Fatalf("Parse succeeded but Tensor(%q) = %v", info.Name, err)
		}
		if err := tt.Validate(); err != nil {
			t.Fatalf("Parse succeeded but tensor %q is invalid: %v", info.Name, err)
		}
	}
	return f
}
