package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/anima-rt/anima/inference/tensor"
)

// Writer builds a GGUF version 3 file: metadata in the order it was set,
// then tensors in the order they were added, each at an offset aligned to
// general.alignment and padded to it, as llama.cpp lays files out (its
// reader insists that each tensor starts where the previous one's padding
// ends).
//
// Like bufio.Writer, a Writer remembers its first error: the adding methods
// return it, and WriteTo fails with it, so a builder may check once at the
// end.
type Writer struct {
	kvs     []KV
	keys    map[string]int // key → index in kvs
	tensors []pendingTensor
	names   map[string]bool
	align   int
	err     error
}

// pendingTensor is a tensor to write: either data or write supplies its
// Size bytes.
type pendingTensor struct {
	info  TensorInfo
	data  []byte
	write func(io.Writer) error
}

// NewWriter returns an empty Writer with the default alignment.
func NewWriter() *Writer {
	return &Writer{keys: map[string]int{}, names: map[string]bool{}, align: DefaultAlignment}
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// Err returns the first error the Writer met.
func (w *Writer) Err() error { return w.err }

// Set sets metadata key to v, which must be one of the Go types listed in
// the package documentation (a plain int is refused: GGUF readers check
// widths, so say uint32 or int32). Setting a key again replaces its value in
// place. Setting general.alignment (a uint32 power of two) changes the
// tensor alignment.
func (w *Writer) Set(key string, v any) error {
	if key == "" {
		return w.fail(errors.New("gguf: set: empty key"))
	}
	if err := checkValue(v, 0); err != nil {
		return w.fail(fmt.Errorf("gguf: set %q: %w", key, err))
	}
	if key == KeyAlignment {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 || a > 1<<30 {
			return w.fail(fmt.Errorf("gguf: set %q: %v (%T) is not a uint32 power of two", key, v, v))
		}
		if len(w.tensors) > 0 {
			return w.fail(fmt.Errorf("gguf: set %q: alignment must be set before tensors are added", key))
		}
		w.align = int(a)
	}
	if i, ok := w.keys[key]; ok {
		w.kvs[i].Value = v
		return nil
	}
	w.keys[key] = len(w.kvs)
	w.kvs = append(w.kvs, KV{Key: key, Value: v})
	return nil
}

// checkValue accepts only values that have a GGUF encoding.
func checkValue(v any, depth int) error {
	t, _, ok := typeOf(v)
	if !ok {
		return fmt.Errorf("%T has no GGUF type", v)
	}
	if t != TypeArray {
		return nil
	}
	if depth >= maxArrayDepth {
		return fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
	}
	if items, isNested := v.([]any); isNested {
		for i, item := range items {
			if t, _, _ := typeOf(item); t != TypeArray {
				return fmt.Errorf("item %d of an array of arrays is %T, not an array", i, item)
			}
			if err := checkValue(item, depth+1); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
	}
	return nil
}

// AddTensor adds a tensor whose data is already encoded as type t. data is
// kept, not copied, until the file is written.
func (w *Writer) AddTensor(name string, t tensor.Type, shape []int, data []byte) error {
	info, err := w.info(name, t, shape)
	if err != nil {
		return w.fail(err)
	}
	if len(data) != info.Size {
		return w.fail(fmt.Errorf("gguf: add tensor %q: %d bytes of data, shape %v of %s needs %d", name, len(data), shape, t, info.Size))
	}
	w.add(pendingTensor{info: info, data: data})
	return nil
}

// AddFloat32 adds a tensor given as float32 values, encoded as type t (F32,
// F16, BF16 or Q8_0) row by row with tensor.EncodeRow.
func (w *Writer) AddFloat32(name string, t tensor.Type, shape []int, values []float32) error {
	info, err := w.info(name, t, shape)
	if err != nil {
		return w.fail(err)
	}
	tt := tensor.Tensor{Shape: shape}
	if len(values) != tt.Elements() {
		return w.fail(fmt.Errorf("gguf: add tensor %q: %d values, shape %v needs %d", name, len(values), shape, tt.Elements()))
	}
	data := make([]byte, 0, info.Size)
	cols := shape[0]
	for r := 0; r < len(values); r += cols {
		if data, err = tensor.EncodeRow(data, values[r:r+cols], t); err != nil {
			return w.fail(fmt.Errorf("gguf: add tensor %q: %w", name, err))
		}
	}
	w.add(pendingTensor{info: info, data: data})
	return nil
}

// AddTensorFunc adds a tensor whose encoded bytes write produces when the
// file is written, so that files larger than memory can be generated.
// write must write exactly the tensor's size in bytes.
func (w *Writer) AddTensorFunc(name string, t tensor.Type, shape []int, write func(io.Writer) error) error {
	info, err := w.info(name, t, shape)
	if err != nil {
		return w.fail(err)
	}
	if write == nil {
		return w.fail(fmt.Errorf("gguf: add tensor %q: nil write function", name))
	}
	w.add(pendingTensor{info: info, write: write})
	return nil
}

// info checks a new tensor's name, type and shape and computes its size and
// offset.
func (w *Writer) info(name string, t tensor.Type, shape []int) (TensorInfo, error) {
	if name == "" || len(name) > MaxNameLen {
		return TensorInfo{}, fmt.Errorf("gguf: add tensor %q: name must be 1 to %d bytes", name, MaxNameLen)
	}
	if w.names[name] {
		return TensorInfo{}, fmt.Errorf("gguf: add tensor %q: added twice", name)
	}
	size, err := shapeBytes(name, t, shape)
	if err != nil {
		return TensorInfo{}, err
	}
	var off uint64
	if n := len(w.tensors); n > 0 {
		last := w.tensors[n-1].info
		off = uint64(alignUp(int(last.Offset)+last.Size, w.align))
	}
	return TensorInfo{Name: name, Type: t, Shape: append([]int(nil), shape...), Offset: off, Size: size}, nil
}

// shapeBytes is the data size of a tensor, with the checks tensor.Validate
// makes.
func shapeBytes(name string, t tensor.Type, shape []int) (int, error) {
	if !t.Known() {
		return 0, fmt.Errorf("gguf: add tensor %q: %w %d", name, tensor.ErrUnknownType, uint32(t))
	}
	if len(shape) < 1 || len(shape) > MaxDims {
		return 0, fmt.Errorf("gguf: add tensor %q: %d dimensions, want 1 to %d", name, len(shape), MaxDims)
	}
	n := int64(1)
	for _, d := range shape {
		if d <= 0 || d > 1<<40 {
			return 0, fmt.Errorf("gguf: add tensor %q: bad dimension %d in %v", name, d, shape)
		}
		n *= int64(d)
		if n > 1<<42 {
			return 0, fmt.Errorf("gguf: add tensor %q: shape %v too large", name, shape)
		}
	}
	rb, err := t.RowBytes(shape[0])
	if err != nil {
		return 0, fmt.Errorf("gguf: add tensor %q: %w", name, err)
	}
	return rb * int(n/int64(shape[0])), nil
}

func (w *Writer) add(p pendingTensor) {
	w.names[p.info.Name] = true
	w.tensors = append(w.tensors, p)
}

// WriteTo writes the file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	cw := &countingWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<16)
	e := &encoder{w: bw}
	e.bytes([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		e.str(kv.Key)
		t, _, _ := typeOf(kv.Value)
		e.u32(uint32(t))
		e.value(kv.Value)
	}
	for _, t := range w.tensors {
		e.str(t.info.Name)
		e.u32(uint32(len(t.info.Shape)))
		for _, d := range t.info.Shape {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.info.Type))
		e.u64(t.info.Offset)
	}
	header := e.n
	e.pad(alignUp(header, w.align) - header)
	if e.err != nil {
		return cw.n, fmt.Errorf("gguf: write: %w", e.err)
	}
	for _, t := range w.tensors {
		if t.write != nil {
			tw := &countingWriter{w: bw}
			if err := t.write(tw); err != nil {
				return cw.n, fmt.Errorf("gguf: write tensor %q: %w", t.info.Name, err)
			}
			if tw.n != int64(t.info.Size) {
				return cw.n, fmt.Errorf("gguf: write tensor %q: wrote %d bytes, shape %v of %s needs %d", t.info.Name, tw.n, t.info.Shape, t.info.Type, t.info.Size)
			}
		} else if _, err := bw.Write(t.data); err != nil {
			return cw.n, fmt.Errorf("gguf: write tensor %q: %w", t.info.Name, err)
		}
		e.pad(alignUp(t.info.Size, w.align) - t.info.Size)
		if e.err != nil {
			return cw.n, fmt.Errorf("gguf: write: %w", e.err)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("gguf: write: %w", err)
	}
	return cw.n, nil
}

// WriteFile writes the file to path, through a temporary file in the same
// directory renamed into place, so a reader never sees half a file.
func (w *Writer) WriteFile(path string) error {
	if w.err != nil {
		return w.err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := w.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian values, remembering the first error and the
// bytes written.
type encoder struct {
	w   io.Writer
	n   int
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += n
	e.err = err
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.bytes(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bytes(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bytes(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:8])
}
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }

func (e *encoder) boolean(b bool) {
	if b {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

var zeros [64]byte

func (e *encoder) pad(n int) {
	for n > 0 {
		k := min(n, len(zeros))
		e.bytes(zeros[:k])
		n -= k
	}
}

// value writes v without its type tag (checkValue has vetted it).
func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		e.boolean(x)
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		e.array(v)
	}
}

func (e *encoder) array(v any) {
	_, elem, _ := typeOf(v)
	e.u32(uint32(elem))
	switch x := v.(type) {
	case []uint8:
		e.u64(uint64(len(x)))
		e.bytes(x)
	case []any:
		e.u64(uint64(len(x)))
		for _, item := range x {
			e.array(item)
		}
	default:
		writeItems(e, x)
	}
}

// writeItems writes the length and items of a typed slice of scalars.
func writeItems(e *encoder, v any) {
	switch x := v.(type) {
	case []int8:
		each(e, x)
	case []uint16:
		each(e, x)
	case []int16:
		each(e, x)
	case []uint32:
		each(e, x)
	case []int32:
		each(e, x)
	case []float32:
		each(e, x)
	case []bool:
		each(e, x)
	case []string:
		each(e, x)
	case []uint64:
		each(e, x)
	case []int64:
		each(e, x)
	case []float64:
		each(e, x)
	}
}

func each[T any](e *encoder, items []T) {
	e.u64(uint64(len(items)))
	for _, item := range items {
		e.value(item)
	}
}
