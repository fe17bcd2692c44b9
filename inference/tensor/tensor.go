// Package tensor describes GGML tensor types and holds zero-copy views of
// tensor data, the vocabulary shared by the GGUF reader, the kernels and the
// model architectures.
//
// Shapes follow GGML's convention: Shape[0] (ne0) is the fastest-moving
// dimension, so a weight matrix of Shape {cols, rows} stores each row's cols
// values contiguously, and an expert tensor {cols, rows, experts} stores each
// expert's matrix contiguously.
package tensor

import (
	"errors"
	"fmt"
)

// Type is a GGML tensor type, numbered as in ggml.h (the numbers appear in
// GGUF files).
type Type uint32

const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q8_1 Type = 9
	Q2_K Type = 10
	Q3_K Type = 11
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	Q8_K Type = 15
	I8   Type = 24
	I16  Type = 25
	I32  Type = 26
	I64  Type = 27
	F64  Type = 28
	BF16 Type = 30
)

// typeInfo is the block layout of a type: BlockSize values take BlockBytes
// bytes.
type typeInfo struct {
	name       string
	blockSize  int
	blockBytes int
}

// types is logically constant: the layouts of every type GGUF files may name.
// A type listed here can be read (its size is known) even if no kernel
// computes with it yet; Supported says which ones do.
var types = map[Type]typeInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	Q4_0: {"Q4_0", 32, 18},
	Q4_1: {"Q4_1", 32, 20},
	Q5_0: {"Q5_0", 32, 22},
	Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34},
	Q8_1: {"Q8_1", 32, 36},
	Q2_K: {"Q2_K", 256, 84},
	Q3_K: {"Q3_K", 256, 110},
	Q4_K: {"Q4_K", 256, 144},
	Q5_K: {"Q5_K", 256, 176},
	Q6_K: {"Q6_K", 256, 210},
	Q8_K: {"Q8_K", 256, 292},
	I8:   {"I8", 1, 1},
	I16:  {"I16", 1, 2},
	I32:  {"I32", 1, 4},
	I64:  {"I64", 1, 8},
	F64:  {"F64", 1, 8},
	BF16: {"BF16", 1, 2},
}

// ErrUnknownType reports a type number this package does not know.
var ErrUnknownType = errors.New("tensor: unknown type")

// Known reports whether t's layout is known.
func (t Type) Known() bool { _, ok := types[t]; return ok }

func (t Type) String() string {
	if info, ok := types[t]; ok {
		return info.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of values in one block (1 for plain types).
func (t Type) BlockSize() int { return types[t].blockSize }

// BlockBytes is the size in bytes of one block.
func (t Type) BlockBytes() int { return types[t].blockBytes }

// RowBytes returns the bytes taken by n values of type t, or an error if n
// is not a whole number of blocks or t is unknown.
func (t Type) RowBytes(n int) (int, error) {
	info, ok := types[t]
	if !ok {
		return 0, fmt.Errorf("%w %d", ErrUnknownType, uint32(t))
	}
	if n < 0 || n%info.blockSize != 0 {
		return 0, fmt.Errorf("tensor: %d values of %s is not a whole number of %d-value blocks", n, info.name, info.blockSize)
	}
	return n / info.blockSize * info.blockBytes, nil
}

// Tensor is a view of one tensor's data. Data usually aliases a
// memory-mapped file and must not be written.
type Tensor struct {
	Name  string
	Type  Type
	Shape []int  // GGML order: Shape[0] is contiguous
	Data  []byte // len == Bytes(); owned by whoever mapped the file
}

// Elements is the product of the shape.
func (t *Tensor) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Cols is Shape[0], the length of one contiguous row.
func (t *Tensor) Cols() int { return t.Shape[0] }

// Rows is the number of rows of length Cols (the product of the other
// dimensions).
func (t *Tensor) Rows() int {
	if len(t.Shape) == 0 {
		return 0
	}
	return t.Elements() / t.Shape[0]
}

// RowBytes is the size in bytes of one row.
func (t *Tensor) RowBytes() int {
	n, _ := t.Type.RowBytes(t.Shape[0])
	return n
}

// Row returns the bytes of row r.
func (t *Tensor) Row(r int) []byte {
	rb := t.RowBytes()
	return t.Data[r*rb : (r+1)*rb]
}

// Slice returns the i-th matrix of a 3-D tensor {cols, rows, n} as a 2-D view
// sharing its data: expert i of a stacked expert tensor.
func (t *Tensor) Slice(i int) (*Tensor, error) {
	if len(t.Shape) != 3 {
		return nil, fmt.Errorf("tensor %q: Slice needs 3 dimensions, have %v", t.Name, t.Shape)
	}
	if i < 0 || i >= t.Shape[2] {
		return nil, fmt.Errorf("tensor %q: slice %d out of range [0,%d)", t.Name, i, t.Shape[2])
	}
	per := t.RowBytes() * t.Shape[1]
	return &Tensor{
		Name:  fmt.Sprintf("%s[%d]", t.Name, i),
		Type:  t.Type,
		Shape: []int{t.Shape[0], t.Shape[1]},
		Data:  t.Data[i*per : (i+1)*per],
	}, nil
}

// Validate checks that Data holds exactly the bytes Shape and Type call for,
// without overflow, so later indexing cannot go out of range.
func (t *Tensor) Validate() error {
	if !t.Type.Known() {
		return fmt.Errorf("tensor %q: %w %d", t.Name, ErrUnknownType, uint32(t.Type))
	}
	if len(t.Shape) == 0 || len(t.Shape) > 4 {
		return fmt.Errorf("tensor %q: %d dimensions, want 1 to 4", t.Name, len(t.Shape))
	}
	n := int64(1)
	for _, d := range t.Shape {
		if d <= 0 || int64(d) > 1<<40 {
			return fmt.Errorf("tensor %q: bad dimension %d in %v", t.Name, d, t.Shape)
		}
		n *= int64(d)
		if n > 1<<42 {
			return fmt.Errorf("tensor %q: shape %v too large", t.Name, t.Shape)
		}
	}
	rb, err := t.Type.RowBytes(t.Shape[0])
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	want := int64(rb) * (n / int64(t.Shape[0]))
	if int64(len(t.Data)) != want {
		return fmt.Errorf("tensor %q: %d bytes of data, shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.Type, want)
	}
	return nil
}
