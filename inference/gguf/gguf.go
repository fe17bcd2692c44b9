// Package gguf reads and writes GGUF files, the model format of ggml and
// llama.cpp, as specified in ggml's docs/gguf.md (version 3; version 2 files,
// which differ only in lacking big-endian support, are read too).
//
// A file is a header, an ordered list of typed metadata key/value pairs, a
// table of tensor infos, then the tensor data, each tensor aligned to
// general.alignment (32 by default). Open memory-maps a file and hands out
// zero-copy tensor views into the mapping; Parse does the same over a byte
// slice; Writer produces files llama.cpp reads.
//
// Metadata values are held as plain Go values:
//
//	GGUF type   Go type       GGUF type   Go type
//	uint8       uint8         int8        int8
//	uint16      uint16        int16       int16
//	uint32      uint32        int32       int32
//	uint64      uint64        int64       int64
//	float32     float32       float64     float64
//	bool        bool          string      string
//
// and an array as a slice of one of those ([]uint32, []string, ...), or, for
// an array of arrays, as []any whose items are themselves arrays.
package gguf

import (
	"errors"
	"fmt"
	"math"

	"github.com/anima-rt/anima/inference/tensor"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// Version is the format version Writer produces.
const Version = 3

// DefaultAlignment is the tensor data alignment when general.alignment is
// absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the tensor data alignment.
const KeyAlignment = "general.alignment"

// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
const MaxDims = 4

// MaxNameLen is the longest tensor name llama.cpp accepts (GGML_MAX_NAME less
// its terminating NUL); Writer refuses longer names so its files stay
// readable there.
const MaxNameLen = 63

// maxArrayDepth bounds nesting of arrays of arrays. The format allows any
// depth, but no real file nests more than twice, and a bound keeps a hostile
// file from recursing the parser's stack away.
const maxArrayDepth = 8

// ValueType is the type tag of a metadata value, numbered as in the spec.
type ValueType uint32

const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

// valueTypeNames is logically constant: the spec's names of the value types.
var valueTypeNames = map[ValueType]string{
	TypeUint8: "uint8", TypeInt8: "int8", TypeUint16: "uint16", TypeInt16: "int16",
	TypeUint32: "uint32", TypeInt32: "int32", TypeFloat32: "float32", TypeBool: "bool",
	TypeString: "string", TypeArray: "array", TypeUint64: "uint64", TypeInt64: "int64",
	TypeFloat64: "float64",
}

func (t ValueType) String() string {
	if n, ok := valueTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// minSize is the fewest bytes a value of type t takes in a file: the bound
// used to reject element counts the remaining bytes cannot hold.
func (t ValueType) minSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64, TypeString:
		return 8 // a string is at least its uint64 length
	case TypeArray:
		return 12 // element type and count
	}
	return 0
}

// KV is one metadata pair. Value holds a Go value as described in the
// package documentation.
type KV struct {
	Key   string
	Value any
}

// Type is the GGUF type of the value (TypeArray for any slice).
func (kv KV) Type() ValueType {
	t, _, _ := typeOf(kv.Value)
	return t
}

// TypeName describes the value's type as inspect prints it:
// "uint32", "array[string]", "array[array[int32]]".
func (kv KV) TypeName() string { return typeName(kv.Value) }

func typeName(v any) string {
	t, elem, ok := typeOf(v)
	if !ok {
		return fmt.Sprintf("unsupported %T", v)
	}
	if t != TypeArray {
		return t.String()
	}
	if elem == TypeArray {
		if items := v.([]any); len(items) > 0 {
			return "array[" + typeName(items[0]) + "]"
		}
	}
	return "array[" + elem.String() + "]"
}

// typeOf maps a Go value to its GGUF type and, for arrays, element type.
func typeOf(v any) (t, elem ValueType, ok bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, 0, true
	case int8:
		return TypeInt8, 0, true
	case uint16:
		return TypeUint16, 0, true
	case int16:
		return TypeInt16, 0, true
	case uint32:
		return TypeUint32, 0, true
	case int32:
		return TypeInt32, 0, true
	case float32:
		return TypeFloat32, 0, true
	case bool:
		return TypeBool, 0, true
	case string:
		return TypeString, 0, true
	case uint64:
		return TypeUint64, 0, true
	case int64:
		return TypeInt64, 0, true
	case float64:
		return TypeFloat64, 0, true
	case []uint8:
		return TypeArray, TypeUint8, true
	case []int8:
		return TypeArray, TypeInt8, true
	case []uint16:
		return TypeArray, TypeUint16, true
	case []int16:
		return TypeArray, TypeInt16, true
	case []uint32:
		return TypeArray, TypeUint32, true
	case []int32:
		return TypeArray, TypeInt32, true
	case []float32:
		return TypeArray, TypeFloat32, true
	case []bool:
		return TypeArray, TypeBool, true
	case []string:
		return TypeArray, TypeString, true
	case []uint64:
		return TypeArray, TypeUint64, true
	case []int64:
		return TypeArray, TypeInt64, true
	case []float64:
		return TypeArray, TypeFloat64, true
	case []any:
		return TypeArray, TypeArray, true
	}
	return 0, 0, false
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name   string
	Type   tensor.Type
	Shape  []int  // GGML order: Shape[0] is contiguous
	Offset uint64 // from the start of the data section, a multiple of the alignment
	Size   int    // bytes of data
}

// ErrKeyNotFound reports a metadata key absent from the file.
var ErrKeyNotFound = errors.New("key not found")

// ErrTensorNotFound reports a tensor name absent from the file.
var ErrTensorNotFound = errors.New("tensor not found")

// File is a parsed GGUF file. Its tensor views alias the bytes it was parsed
// from (the mapping, for Open), so they are valid only until Close.
type File struct {
	Version    uint32
	Alignment  int
	DataOffset int64 // where the data section starts in the file

	kvs      []KV
	keys     map[string]int // key → index in kvs
	tensors  []TensorInfo
	names    map[string]int // tensor name → index in tensors
	data     []byte         // the whole file
	release  func() error   // unmaps data; nil when the caller owns data
	released bool
}

// KVs returns the metadata in file order. The slice is the File's own and
// must not be modified.
func (f *File) KVs() []KV { return f.kvs }

// Tensors returns the tensor infos in file order. The slice is the File's
// own and must not be modified.
func (f *File) Tensors() []TensorInfo { return f.tensors }

// Has reports whether key is present.
func (f *File) Has(key string) bool { _, ok := f.keys[key]; return ok }

// Value returns key's value, or false if it is absent.
func (f *File) Value(key string) (any, bool) {
	i, ok := f.keys[key]
	if !ok {
		return nil, false
	}
	return f.kvs[i].Value, true
}

// Size is the length in bytes of the parsed file.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Architecture returns general.architecture, the prefix of the model's
// hyper-parameter keys ("qwen3moe", "llama").
func (f *File) Architecture() (string, error) { return f.String("general.architecture") }

func (f *File) lookup(key string) (any, error) {
	v, ok := f.Value(key)
	if !ok {
		return nil, fmt.Errorf("gguf: key %q: %w", key, ErrKeyNotFound)
	}
	return v, nil
}

func wrongType(key string, v any, want string) error {
	return fmt.Errorf("gguf: key %q is %s, want %s", key, typeName(v), want)
}

// String returns key's value, which must be a string.
func (f *File) String(key string) (string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", wrongType(key, v, "string")
	}
	return s, nil
}

// Bool returns key's value, which must be a bool.
func (f *File) Bool(key string) (bool, error) {
	v, err := f.lookup(key)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, wrongType(key, v, "bool")
	}
	return b, nil
}

// asInt64 converts any integer value; ok is false for other types and for
// uint64 values beyond int64.
func asInt64(v any) (n int64, ok bool) {
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// integer reads key as any integer type and checks it lies in [lo, hi].
// Writers disagree on the width and signedness of counts, so accepting any
// integer that fits is what keeps real files loading.
func (f *File) integer(key string, lo, hi int64, want string) (int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	n, ok := asInt64(v)
	if !ok {
		if u, isU := v.(uint64); isU {
			return 0, fmt.Errorf("gguf: key %q: %d does not fit %s", key, u, want)
		}
		return 0, wrongType(key, v, want)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("gguf: key %q: %d does not fit %s", key, n, want)
	}
	return n, nil
}

// Uint32 returns key's value, which may be of any integer type whose value
// fits a uint32.
func (f *File) Uint32(key string) (uint32, error) {
	n, err := f.integer(key, 0, math.MaxUint32, "uint32")
	return uint32(n), err
}

// Int32 returns key's value, which may be of any integer type whose value
// fits an int32.
func (f *File) Int32(key string) (int32, error) {
	n, err := f.integer(key, math.MinInt32, math.MaxInt32, "int32")
	return int32(n), err
}

// Uint64 returns key's value, which may be of any non-negative integer type.
func (f *File) Uint64(key string) (uint64, error) {
	if v, ok := f.Value(key); ok {
		if u, ok := v.(uint64); ok {
			return u, nil
		}
	}
	n, err := f.integer(key, 0, math.MaxInt64, "uint64")
	return uint64(n), err
}

// Int64 returns key's value, which may be of any integer type whose value
// fits an int64.
func (f *File) Int64(key string) (int64, error) {
	return f.integer(key, math.MinInt64, math.MaxInt64, "int64")
}

// Int returns key's value as an int, which may be of any integer type that
// fits: the convenient form for counts and sizes.
func (f *File) Int(key string) (int, error) {
	n, err := f.integer(key, math.MinInt, math.MaxInt, "int")
	return int(n), err
}

// Float32 returns key's value, which must be a float32 or float64.
func (f *File) Float32(key string) (float32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float32:
		return x, nil
	case float64:
		return float32(x), nil
	}
	return 0, wrongType(key, v, "float32")
}

// Float64 returns key's value, which must be a float32 or float64.
func (f *File) Float64(key string) (float64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, wrongType(key, v, "float64")
}

// Strings returns key's value, which must be an array of strings. The slice
// is the File's own and must not be modified.
func (f *File) Strings(key string) ([]string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.([]string)
	if !ok {
		return nil, wrongType(key, v, "array[string]")
	}
	return s, nil
}

// Int32s returns key's value, an array of any integer type whose items fit
// an int32 (token types are int32 in llama.cpp's files, but not in every
// writer's), as a new slice.
func (f *File) Int32s(key string) ([]int32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	if s, ok := v.([]int32); ok {
		return append([]int32(nil), s...), nil
	}
	out, ok := intArray(v, math.MinInt32, math.MaxInt32, func(n int64) int32 { return int32(n) })
	if !ok {
		return nil, fmt.Errorf("gguf: key %q is %s, want an array of integers that fit int32", key, typeName(v))
	}
	return out, nil
}

// Uint32s returns key's value, an array of any integer type whose items fit
// a uint32, as a new slice.
func (f *File) Uint32s(key string) ([]uint32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	out, ok := intArray(v, 0, math.MaxUint32, func(n int64) uint32 { return uint32(n) })
	if !ok {
		return nil, fmt.Errorf("gguf: key %q is %s, want an array of integers that fit uint32", key, typeName(v))
	}
	return out, nil
}

// intArray converts an array of any integer type, checking every item lies
// in [lo, hi].
func intArray[T any](v any, lo, hi int64, conv func(int64) T) ([]T, bool) {
	var n int
	var at func(i int) (int64, bool)
	switch s := v.(type) {
	case []uint8:
		n, at = len(s), func(i int) (int64, bool) { return int64(s[i]), true }
	case []int8:
		n, at = len(s), func(i int) (int64, bool) { return int64(s[i]), true }
	case []uint16:
		n, at = len(s), func(i int) (int64, bool) { return int64(s[i]), true }
	case []int16:
		n, at = len(s), func(i int) (int64, bool) { return int64(s[i]), true }
	case []uint32:
		n, at = len(s), func(i int) (int64, bool) { return int64(s[i]), true }
	case []int32:
		n, at = len(s), func(i int) (int64, bool) { return int64(s[i]), true }
	case []int64:
		n, at = len(s), func(i int) (int64, bool) { return s[i], true }
	case []uint64:
		n, at = len(s), func(i int) (int64, bool) { return asInt64(s[i]) }
	default:
		return nil, false
	}
	out := make([]T, n)
	for i := range out {
		x, ok := at(i)
		if !ok || x < lo || x > hi {
			return nil, false
		}
		out[i] = conv(x)
	}
	return out, true
}

// Float32s returns key's value, an array of float32 (or float64, converted),
// as a new slice.
func (f *File) Float32s(key string) ([]float32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	switch s := v.(type) {
	case []float32:
		return append([]float32(nil), s...), nil
	case []float64:
		out := make([]float32, len(s))
		for i, x := range s {
			out[i] = float32(x)
		}
		return out, nil
	}
	return nil, wrongType(key, v, "array[float32]")
}

// HasTensor reports whether the named tensor is present (an optional one
// such as output.weight, absent when the embedding is tied).
func (f *File) HasTensor(name string) bool { _, ok := f.names[name]; return ok }

// TensorInfo returns the info of the named tensor.
func (f *File) TensorInfo(name string) (TensorInfo, error) {
	i, ok := f.names[name]
	if !ok {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %w", name, ErrTensorNotFound)
	}
	return f.tensors[i], nil
}

// Tensor returns a zero-copy view of the named tensor: its Data aliases the
// file's bytes, so it must not be written and is valid until Close. Data
// starts Alignment bytes aligned relative to the parsed bytes; a mapping
// from Open is page-aligned, so with the default alignment of 32 float
// data may be read through unsafe casts.
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	info, err := f.TensorInfo(name)
	if err != nil {
		return nil, err
	}
	if f.released {
		return nil, fmt.Errorf("gguf: tensor %q: file is closed", name)
	}
	start := f.DataOffset + int64(info.Offset)
	t := &tensor.Tensor{
		Name:  info.Name,
		Type:  info.Type,
		Shape: append([]int(nil), info.Shape...),
		Data:  f.data[start : start+int64(info.Size) : start+int64(info.Size)],
	}
	if err := t.Validate(); err != nil { // cannot fail after Parse's checks; kept as a guard
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return t, nil
}

// Close releases the mapping of a File from Open; tensor views taken from
// it must not be used afterwards. Close is a no-op for a File from Parse,
// and calling it twice is harmless.
func (f *File) Close() error {
	if f.released {
		return nil
	}
	f.released = true
	if f.release == nil {
		return nil
	}
	err := f.release()
	f.data = nil
	return err
}
