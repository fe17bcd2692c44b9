package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

// everyValue holds one metadata value of every Go type a GGUF value maps to,
// including empty and nested arrays.
var everyValue = []KV{
	{"general.architecture", "qwen3moe"},
	{"u8", uint8(200)},
	{"i8", int8(-100)},
	{"u16", uint16(60000)},
	{"i16", int16(-30000)},
	{"u32", uint32(4000000000)},
	{"i32", int32(-2000000000)},
	{"f32", float32(1.5e-6)},
	{"bool.t", true},
	{"bool.f", false},
	{"str", "안녕하세요 ▁ <|im_start|>"},
	{"str.empty", ""},
	{"u64", uint64(math.MaxUint64)},
	{"i64", int64(math.MinInt64)},
	{"f64", math.Pi},
	{"arr.u8", []uint8{0, 1, 255}},
	{"arr.i8", []int8{-128, 127}},
	{"arr.u16", []uint16{1, 65535}},
	{"arr.i16", []int16{-1, 2}},
	{"arr.u32", []uint32{7, 8, 9}},
	{"arr.i32", []int32{-1, 0, 1, 3}},
	{"arr.f32", []float32{0.25, -1e9}},
	{"arr.bool", []bool{true, false, true}},
	{"arr.str", []string{"a", "", "Ġhello", "<0x0A>"}},
	{"arr.u64", []uint64{1 << 40}},
	{"arr.i64", []int64{-1 << 40}},
	{"arr.f64", []float64{1e300}},
	{"arr.empty", []int32{}},
	{"arr.nested", []any{[]int32{1, 2}, []string{"x"}, []any{[]uint8{5}}, []float32{}}},
}

// buildSample writes a file with every value type and tensors of each type
// the kernels use, returning its bytes and the tensors' float inputs.
func buildSample(t testing.TB, align uint32) ([]byte, map[string][]float32) {
	t.Helper()
	w := NewWriter()
	if align != 0 {
		w.Set(KeyAlignment, align)
	}
	for _, kv := range everyValue {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	floats := map[string][]float32{}
	for _, tc := range []struct {
		name  string
		typ   tensor.Type
		shape []int
	}{
		{"token_embd.weight", tensor.F32, []int{64, 5}},
		{"blk.0.attn_q.weight", tensor.F16, []int{33, 3}}, // odd size: padding follows
		{"blk.0.ffn_gate_exps.weight", tensor.Q8_0, []int{64, 3, 4}},
		{"blk.0.ffn_down_exps.weight", tensor.BF16, []int{7, 2, 2, 2}},
		{"output_norm.weight", tensor.F32, []int{1}},
	} {
		n := 1
		for _, d := range tc.shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		floats[tc.name] = v
		if err := w.AddFloat32(tc.name, tc.typ, tc.shape, v); err != nil {
			t.Fatal(err)
		}
	}
	raw := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if err := w.AddTensor("raw.i8", tensor.I8, []int{8}, raw); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensorFunc("streamed.f32", tensor.F32, []int{4, 2}, func(out io.Writer) error {
		for i := range 8 {
			var b [4]byte
			b[0], b[3] = byte(i), 0x3f
			if _, err := out.Write(b[:]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d; wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes(), floats
}

func TestRoundTripEveryValueAndTensor(t *testing.T) {
	for _, align := range []uint32{0, 64} {
		t.Run(fmt.Sprint("align=", align), func(t *testing.T) {
			data, floats := buildSample(t, align)
			f, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != 3 {
				t.Errorf("Version = %d; want 3", f.Version)
			}
			wantAlign := int(align)
			if align == 0 {
				wantAlign = DefaultAlignment
			}
			if f.Alignment != wantAlign || f.DataOffset%int64(wantAlign) != 0 {
				t.Errorf("Alignment = %d, DataOffset = %d; want alignment %d", f.Alignment, f.DataOffset, wantAlign)
			}
			want := everyValue
			if align != 0 {
				want = append([]KV{{KeyAlignment, align}}, everyValue...)
			}
			if !reflect.DeepEqual(f.KVs(), want) {
				t.Errorf("KVs differ after round trip:\n got %#v\nwant %#v", f.KVs(), want)
			}
			for name, v := range floats {
				tt, err := f.Tensor(name)
				if err != nil {
					t.Fatal(err)
				}
				var want []byte
				for r := 0; r < len(v); r += tt.Shape[0] {
					want, _ = tensor.EncodeRow(want, v[r:r+tt.Shape[0]], tt.Type)
				}
				if !bytes.Equal(tt.Data, want) {
					t.Errorf("tensor %q data differs after round trip", name)
				}
			}
			raw, err := f.Tensor("raw.i8")
			if err != nil || !bytes.Equal(raw.Data, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
				t.Errorf("Tensor(raw.i8) = %v, %v", raw, err)
			}
			s, err := f.Tensor("streamed.f32")
			if err != nil || s.Data[4] != 1 || s.Data[7] != 0x3f || len(s.Data) != 32 {
				t.Errorf("Tensor(streamed.f32) = %v, %v", s, err)
			}
		})
	}
}

// TestLayoutMatchesLlamaCpp checks the layout llama.cpp's reader insists on:
// each tensor starts where the previous one's aligned padding ends, and the
// data section is padded to the alignment after the last tensor too.
func TestLayoutMatchesLlamaCpp(t *testing.T) {
	data, _ := buildSample(t, 0)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(0)
	for _, ti := range f.Tensors() {
		if ti.Offset != next {
			t.Errorf("tensor %q at offset %d; want %d", ti.Name, ti.Offset, next)
		}
		next += uint64(alignUp(ti.Size, f.Alignment))
	}
	if got := int64(len(data)) - f.DataOffset; got != int64(next) {
		t.Errorf("data section is %d bytes; want %d", got, next)
	}
}

func TestTensorViewIsZeroCopy(t *testing.T) {
	data, _ := buildSample(t, 0)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := f.Tensor("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.TensorInfo("token_embd.weight")
	if &tt.Data[0] != &data[f.DataOffset+int64(info.Offset)] {
		t.Error("Tensor data does not alias the parsed bytes")
	}
	if cap(tt.Data) != len(tt.Data) {
		t.Errorf("Tensor data has cap %d > len %d: an append would overwrite the next tensor", cap(tt.Data), len(tt.Data))
	}
	if !f.HasTensor("token_embd.weight") || f.HasTensor("output.weight") {
		t.Error("HasTensor: want token_embd.weight present and output.weight absent")
	}
	if _, err := f.Tensor("nope"); !errors.Is(err, ErrTensorNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Tensor(nope) error = %v; want ErrTensorNotFound naming it", err)
	}
}

func TestOpenMapsFile(t *testing.T) {
	data, floats := buildSample(t, 0)
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := f.Tensor("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float32, 64)
	if err := tensor.DequantizeRow(row, tt.Row(1), tt.Type); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(row, floats["token_embd.weight"][64:128]) {
		t.Error("row 1 of the mapped F32 tensor differs from what was written")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	if _, err := f.Tensor("token_embd.weight"); err == nil {
		t.Error("Tensor after Close succeeded; want an error")
	}

	empty := filepath.Join(t.TempDir(), "empty.gguf")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Open(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Open(empty file) error = %v; want it to say empty", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(bad, []byte("GGML and more bytes"), 0o644)
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), "not a GGUF file") || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(bad magic) error = %v; want 'not a GGUF file' and the path", err)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(directory) error = %v; want 'not a regular file'", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) error = %v; want ErrNotExist", err)
	}
}

func TestWriteFile(t *testing.T) {
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.AddFloat32("a", tensor.F32, []int{2}, []float32{1, 2})
	path := filepath.Join(t.TempDir(), "x.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if arch, err := f.Architecture(); arch != "llama" || err != nil {
		t.Errorf("Architecture() = %q, %v; want llama", arch, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after WriteFile; want just the file", len(entries))
	}
}

func TestAccessors(t *testing.T) {
	w := NewWriter()
	w.Set("qwen3moe.expert_count", uint32(8))
	w.Set("i8", int8(-3))
	w.Set("u64.big", uint64(math.MaxUint64))
	w.Set("i64", int64(1<<40))
	w.Set("f64", 0.5)
	w.Set("f32", float32(1e-6))
	w.Set("name", "qwen3moe")
	w.Set("flag", true)
	w.Set("tokens", []string{"a", "b"})
	w.Set("types.i32", []int32{1, 3})
	w.Set("types.u8", []uint8{1, 4})
	w.Set("types.neg", []int64{-1})
	w.Set("scores.f64", []float64{0.5})
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		call    string
		get     func() (any, error)
		want    any
		wantErr string // substring; "" for success
	}{
		{"Uint32(expert_count)", func() (any, error) { return f.Uint32("qwen3moe.expert_count") }, uint32(8), ""},
		{"Int(expert_count)", func() (any, error) { return f.Int("qwen3moe.expert_count") }, 8, ""},
		{"Int64(i64)", func() (any, error) { return f.Int64("i64") }, int64(1 << 40), ""},
		{"Uint32(i64)", func() (any, error) { return f.Uint32("i64") }, uint32(0), `"i64": 1099511627776 does not fit uint32`},
		{"Uint32(i8)", func() (any, error) { return f.Uint32("i8") }, uint32(0), `"i8": -3 does not fit uint32`},
		{"Int32(i8)", func() (any, error) { return f.Int32("i8") }, int32(-3), ""},
		{"Uint64(u64.big)", func() (any, error) { return f.Uint64("u64.big") }, uint64(math.MaxUint64), ""},
		{"Int64(u64.big)", func() (any, error) { return f.Int64("u64.big") }, int64(0), "does not fit int64"},
		{"Uint32(name)", func() (any, error) { return f.Uint32("name") }, uint32(0), `key "name" is string, want uint32`},
		{"Uint32(missing)", func() (any, error) { return f.Uint32("qwen3moe.expert_used_count") }, uint32(0), `key "qwen3moe.expert_used_count": key not found`},
		{"Float32(f64)", func() (any, error) { return f.Float32("f64") }, float32(0.5), ""},
		{"Float32(f32)", func() (any, error) { return f.Float32("f32") }, float32(1e-6), ""},
		{"Float64(f32)", func() (any, error) { return f.Float64("f32") }, float64(float32(1e-6)), ""},
		{"Float32(name)", func() (any, error) { return f.Float32("name") }, float32(0), "is string, want float32"},
		{"String(name)", func() (any, error) { return f.String("name") }, "qwen3moe", ""},
		{"String(flag)", func() (any, error) { return f.String("flag") }, "", `key "flag" is bool, want string`},
		{"Bool(flag)", func() (any, error) { return f.Bool("flag") }, true, ""},
		{"Bool(name)", func() (any, error) { return f.Bool("name") }, false, "want bool"},
		{"Strings(tokens)", func() (any, error) { return f.Strings("tokens") }, []string{"a", "b"}, ""},
		{"Strings(types.i32)", func() (any, error) { return f.Strings("types.i32") }, []string(nil), `key "types.i32" is array[int32], want array[string]`},
		{"Int32s(types.i32)", func() (any, error) { return f.Int32s("types.i32") }, []int32{1, 3}, ""},
		{"Int32s(types.u8)", func() (any, error) { return f.Int32s("types.u8") }, []int32{1, 4}, ""},
		{"Int32s(tokens)", func() (any, error) { return f.Int32s("tokens") }, []int32(nil), "array[string]"},
		{"Uint32s(types.neg)", func() (any, error) { return f.Uint32s("types.neg") }, []uint32(nil), "fit uint32"},
		{"Uint32s(types.u8)", func() (any, error) { return f.Uint32s("types.u8") }, []uint32{1, 4}, ""},
		{"Float32s(scores.f64)", func() (any, error) { return f.Float32s("scores.f64") }, []float32{0.5}, ""},
		{"Float32s(missing)", func() (any, error) { return f.Float32s("scores") }, []float32(nil), "key not found"},
	}
	for _, tt := range tests {
		got, err := tt.get()
		if tt.wantErr == "" {
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v, %v; want %#v", tt.call, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s error = %v; want one containing %q", tt.call, err, tt.wantErr)
		}
	}
	if _, err := f.Uint32("missing"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Uint32(missing) error %v is not ErrKeyNotFound", err)
	}
}

func TestWriterRefusesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		do      func(w *Writer) error
		wantErr string
	}{
		{"plain int", func(w *Writer) error { return w.Set("n", 3) }, "int has no GGUF type"},
		{"nested non-array", func(w *Writer) error { return w.Set("n", []any{"x"}) }, "not an array"},
		{"map", func(w *Writer) error { return w.Set("n", map[string]int{}) }, "no GGUF type"},
		{"empty key", func(w *Writer) error { return w.Set("", uint8(1)) }, "empty key"},
		{"alignment not power of two", func(w *Writer) error { return w.Set(KeyAlignment, uint32(24)) }, "power of two"},
		{"alignment wrong type", func(w *Writer) error { return w.Set(KeyAlignment, uint64(32)) }, "power of two"},
		{"long name", func(w *Writer) error {
			return w.AddTensor(strings.Repeat("x", 64), tensor.F32, []int{1}, make([]byte, 4))
		}, "name must be 1 to 63 bytes"},
		{"duplicate", func(w *Writer) error {
			w.AddTensor("a", tensor.F32, []int{1}, make([]byte, 4))
			return w.AddTensor("a", tensor.F32, []int{1}, make([]byte, 4))
		}, `"a": added twice`},
		{"short data", func(w *Writer) error { return w.AddTensor("a", tensor.F32, []int{2}, make([]byte, 4)) }, "4 bytes of data"},
		{"partial block", func(w *Writer) error { return w.AddTensor("a", tensor.Q8_0, []int{16}, make([]byte, 17)) }, "whole number"},
		{"unknown type", func(w *Writer) error { return w.AddTensor("a", tensor.Type(99), []int{1}, nil) }, "unknown type 99"},
		{"five dims", func(w *Writer) error {
			return w.AddTensor("a", tensor.I8, []int{1, 1, 1, 1, 1}, make([]byte, 1))
		}, "5 dimensions"},
		{"zero dim", func(w *Writer) error { return w.AddTensor("a", tensor.I8, []int{0}, nil) }, "bad dimension 0"},
		{"value count", func(w *Writer) error { return w.AddFloat32("a", tensor.F32, []int{3}, []float32{1}) }, "1 values"},
		{"unencodable", func(w *Writer) error { return w.AddFloat32("a", tensor.Q4_K, []int{256}, make([]float32, 256)) }, "not supported"},
		{"short stream", func(w *Writer) error {
			w.AddTensorFunc("a", tensor.F32, []int{2}, func(out io.Writer) error { _, err := out.Write(make([]byte, 4)); return err })
			_, err := w.WriteTo(io.Discard)
			return err
		}, "wrote 4 bytes"},
	}
	for _, tt := range tests {
		w := NewWriter()
		err := tt.do(w)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error = %v; want one containing %q", tt.name, err, tt.wantErr)
			continue
		}
		if _, werr := w.WriteTo(io.Discard); werr == nil {
			t.Errorf("%s: WriteTo succeeded after an error; want the sticky error", tt.name)
		}
	}
}
