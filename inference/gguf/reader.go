package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/anima-rt/anima/inference/tensor"
)

// ErrTruncated reports a file that ends in the middle of a structure.
var ErrTruncated = errors.New("unexpected end of file")

// decoder reads little-endian values from data, advancing off. Every read
// checks the remaining length first, and every count is checked against the
// remaining bytes before anything is allocated for it.
type decoder struct {
	data []byte
	off  int
}

func (d *decoder) remaining() int { return len(d.data) - d.off }

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrTruncated, n, d.off, d.remaining())
	}
	b := d.data[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a uint64 count of items each taking at least minSize bytes and
// rejects it unless the rest of the file could hold that many.
func (d *decoder) count(what string, minSize int) (int, error) {
	n, err := d.u64()
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(d.remaining()/minSize) {
		return 0, fmt.Errorf("%s %d cannot fit in the %d bytes left", what, n, d.remaining())
	}
	return int(n), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.count("string length", 1)
	if err != nil {
		return "", err
	}
	b, err := d.take(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// value reads one value of type t; depth counts enclosing arrays.
func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	case TypeBool:
		return d.boolean()
	case TypeString:
		return d.str()
	case TypeArray:
		return d.array(depth + 1)
	}
	return nil, fmt.Errorf("unknown value type %d", uint32(t))
}

func (d *decoder) boolean() (bool, error) {
	v, err := d.u8()
	if err != nil {
		return false, err
	}
	if v > 1 {
		return false, fmt.Errorf("bool byte %d at offset %d is neither 0 nor 1", v, d.off-1)
	}
	return v == 1, nil
}

// array reads an array's element type, count and items into a typed slice.
func (d *decoder) array(depth int) (any, error) {
	if depth > maxArrayDepth {
		return nil, fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
	}
	et, err := d.u32()
	if err != nil {
		return nil, err
	}
	elem := ValueType(et)
	if _, ok := valueTypeNames[elem]; !ok {
		return nil, fmt.Errorf("array of unknown value type %d", et)
	}
	n, err := d.count("array length", elem.minSize())
	if err != nil {
		return nil, err
	}
	switch elem {
	case TypeUint8:
		b, _ := d.take(n) // count checked n fits
		return slices.Clone(b), nil
	case TypeInt8:
		return fixed(d, n, 1, func(b []byte) int8 { return int8(b[0]) }), nil
	case TypeUint16:
		return fixed(d, n, 2, binary.LittleEndian.Uint16), nil
	case TypeInt16:
		return fixed(d, n, 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) }), nil
	case TypeUint32:
		return fixed(d, n, 4, binary.LittleEndian.Uint32), nil
	case TypeInt32:
		return fixed(d, n, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) }), nil
	case TypeFloat32:
		return fixed(d, n, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }), nil
	case TypeUint64:
		return fixed(d, n, 8, binary.LittleEndian.Uint64), nil
	case TypeInt64:
		return fixed(d, n, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }), nil
	case TypeFloat64:
		return fixed(d, n, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }), nil
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			if out[i], err = d.boolean(); err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
		}
		return out, nil
	case TypeString:
		out := make([]string, n)
		for i := range out {
			if out[i], err = d.str(); err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
		}
		return out, nil
	case TypeArray:
		out := make([]any, n)
		for i := range out {
			if out[i], err = d.array(depth + 1); err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("array of unknown value type %d", et) // unreachable: checked above
}

// fixed decodes n items of size bytes each; the caller has checked that
// n*size bytes remain.
func fixed[T any](d *decoder, n, size int, get func([]byte) T) []T {
	b, _ := d.take(n * size)
	out := make([]T, n)
	for i := range out {
		out[i] = get(b[i*size:])
	}
	return out
}

// Parse parses a GGUF file held in data. The File's tensor views alias data,
// which must stay unchanged while they are used. Any malformation — a
// truncated structure, an absurd count, an unknown type, a tensor outside
// the file or overlapping another — is an error naming what was wrong.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

func parse(data []byte) (*File, error) {
	d := &decoder{data: data}
	magic, err := d.take(4)
	if err != nil {
		return nil, fmt.Errorf("not a GGUF file: %w", err)
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("not a GGUF file: magic %q, want %q", magic, Magic)
	}
	version, err := d.u32()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	switch {
	case version == 2 || version == 3:
	case version == 1:
		return nil, errors.New("GGUF version 1 is not supported (32-bit counts; re-convert the model)")
	case bits.ReverseBytes32(version) == 2 || bits.ReverseBytes32(version) == 3:
		return nil, errors.New("big-endian GGUF files are not supported")
	default:
		return nil, fmt.Errorf("unsupported GGUF version %d (want 2 or 3)", version)
	}
	f := &File{Version: version, Alignment: DefaultAlignment, data: data}

	// Smallest tensor info: name length, dimension count, one dimension,
	// type, offset. Smallest KV: key length, value type, a one-byte value.
	// Both counts are checked against the bytes left before anything is
	// allocated for them.
	ntensors, err := d.count("tensor count", 8+4+8+4+8)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	nkv, err := d.count("metadata key count", 8+4+1)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}

	f.kvs = make([]KV, 0, nkv)
	f.keys = make(map[string]int, nkv)
	for i := 0; i < nkv; i++ {
		key, err := d.str()
		if err != nil {
			return nil, fmt.Errorf("metadata key %d: %w", i, err)
		}
		if _, dup := f.keys[key]; dup {
			return nil, fmt.Errorf("metadata key %q appears twice", key)
		}
		t, err := d.u32()
		if err != nil {
			return nil, fmt.Errorf("metadata key %q: %w", key, err)
		}
		v, err := d.value(ValueType(t), 0)
		if err != nil {
			return nil, fmt.Errorf("metadata key %q: %w", key, err)
		}
		f.keys[key] = len(f.kvs)
		f.kvs = append(f.kvs, KV{Key: key, Value: v})
	}
	if v, ok := f.Value(KeyAlignment); ok {
		a, isU32 := v.(uint32)
		if !isU32 {
			return nil, fmt.Errorf("metadata key %q is %s, want uint32", KeyAlignment, typeName(v))
		}
		if a == 0 || a&(a-1) != 0 || a > 1<<30 {
			return nil, fmt.Errorf("metadata key %q: %d is not a power of two", KeyAlignment, a)
		}
		f.Alignment = int(a)
	}

	if err := checkCount(d, "tensor count", ntensors, 8+4+8+4+8); err != nil {
		return nil, err
	}
	f.tensors = make([]TensorInfo, 0, ntensors)
	f.names = make(map[string]int, ntensors)
	for i := 0; i < ntensors; i++ {
		info, err := d.tensorInfo(len(data))
		if err != nil {
			if info.Name != "" {
				return nil, fmt.Errorf("tensor %q: %w", info.Name, err)
			}
			return nil, fmt.Errorf("tensor %d: %w", i, err)
		}
		if _, dup := f.names[info.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", info.Name)
		}
		if info.Offset%uint64(f.Alignment) != 0 {
			return nil, fmt.Errorf("tensor %q: offset %d is not a multiple of the alignment %d", info.Name, info.Offset, f.Alignment)
		}
		f.names[info.Name] = len(f.tensors)
		f.tensors = append(f.tensors, info)
	}

	f.DataOffset = int64(alignUp(d.off, f.Alignment))
	if ntensors == 0 {
		return f, nil // the data section may be absent
	}
	if f.DataOffset > int64(len(data)) {
		return nil, fmt.Errorf("%w: data section at offset %d is past the end of the %d-byte file", ErrTruncated, f.DataOffset, len(data))
	}
	avail := uint64(int64(len(data)) - f.DataOffset)
	for _, t := range f.tensors {
		if t.Offset > avail || uint64(t.Size) > avail-t.Offset {
			return nil, fmt.Errorf("tensor %q: %d bytes at data offset %d run past the end of the file (%d bytes of data)", t.Name, t.Size, t.Offset, avail)
		}
	}
	byOffset := make([]int, len(f.tensors))
	for i := range byOffset {
		byOffset[i] = i
	}
	slices.SortFunc(byOffset, func(a, b int) int {
		if f.tensors[a].Offset < f.tensors[b].Offset {
			return -1
		}
		if f.tensors[a].Offset > f.tensors[b].Offset {
			return 1
		}
		return 0
	})
	for k := 1; k < len(byOffset); k++ {
		prev, cur := f.tensors[byOffset[k-1]], f.tensors[byOffset[k]]
		if prev.Offset+uint64(prev.Size) > cur.Offset {
			return nil, fmt.Errorf("tensor %q at data offset %d overlaps tensor %q (%d bytes at %d)", cur.Name, cur.Offset, prev.Name, prev.Size, prev.Offset)
		}
	}
	return f, nil
}

// checkCount rejects n items of at least minSize bytes each that the rest of
// the file cannot hold.
func checkCount(d *decoder, what string, n, minSize int) error {
	if n > d.remaining()/minSize {
		return fmt.Errorf("%s %d cannot fit in the %d bytes left", what, n, d.remaining())
	}
	return nil
}

// tensorInfo reads one tensor info and checks its shape and type, so that
// its byte size is known not to overflow and not to exceed fileSize. On error
// the returned info carries the name if it was read.
func (d *decoder) tensorInfo(fileSize int) (TensorInfo, error) {
	var info TensorInfo
	name, err := d.str()
	if err != nil {
		return info, fmt.Errorf("name: %w", err)
	}
	if name == "" {
		return info, errors.New("empty name")
	}
	info.Name = name
	ndims, err := d.u32()
	if err != nil {
		return info, err
	}
	if ndims < 1 || ndims > MaxDims {
		return info, fmt.Errorf("%d dimensions, want 1 to %d", ndims, MaxDims)
	}
	info.Shape = make([]int, ndims)
	elems := uint64(1)
	for j := range info.Shape {
		n, err := d.u64()
		if err != nil {
			return info, err
		}
		info.Shape[j] = int(min(n, math.MaxInt32)) // for the messages below
		if n == 0 || n > uint64(fileSize) {
			// Every dimension is at most the element count, which is at most
			// the file size (no type packs more than 8 values per byte).
			return info, fmt.Errorf("dimension %d is %d, which cannot fit a %d-byte file", j, n, fileSize)
		}
		hi, lo := bits.Mul64(elems, n)
		if hi != 0 || lo > 8*uint64(fileSize) {
			return info, fmt.Errorf("shape %v... has more elements than a %d-byte file can hold", info.Shape[:j+1], fileSize)
		}
		elems = lo
	}
	t, err := d.u32()
	if err != nil {
		return info, err
	}
	info.Type = tensor.Type(t)
	if !info.Type.Known() {
		return info, fmt.Errorf("%w %d", tensor.ErrUnknownType, t)
	}
	rowBytes, err := info.Type.RowBytes(info.Shape[0])
	if err != nil {
		return info, err
	}
	size := uint64(rowBytes) * (elems / uint64(info.Shape[0])) // both ≤ 8×fileSize·blockBytes: no overflow on 64 bits
	if size > uint64(fileSize) {
		return info, fmt.Errorf("shape %v of %s needs %d bytes, more than the %d-byte file", info.Shape, info.Type, size, fileSize)
	}
	info.Size = int(size)
	if info.Offset, err = d.u64(); err != nil {
		return info, err
	}
	return info, nil
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }
