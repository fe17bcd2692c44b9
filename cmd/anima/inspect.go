package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/anima-rt/anima/inference/gguf"
)

// runInspect prints a GGUF file's header, metadata and tensor table.
func runInspect(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object instead of tables")
	items := fs.Int("items", 8, "array items to show per key (-1: all)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: anima inspect [-json] [-items N] FILE\n\nPrints a GGUF file's version, metadata and tensors.\n\n")
		fs.PrintDefaults()
	}
	// Accept flags before or after the file name.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("want exactly one GGUF file")
	}
	f, err := gguf.Open(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	if *asJSON {
		return inspectJSON(os.Stdout, files[0], f, *items)
	}
	return inspectText(os.Stdout, files[0], f, *items)
}

func inspectText(w io.Writer, path string, f *gguf.File, items int) error {
	fmt.Fprintf(w, "%s: GGUF version %d, alignment %d, %d bytes, tensor data at offset %d\n\n",
		path, f.Version, f.Alignment, f.Size(), f.DataOffset)
	fmt.Fprintf(w, "metadata: %d keys\n", len(f.KVs()))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, kv := range f.KVs() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", kv.Key, kv.TypeName(), formatValue(kv.Value, items))
	}
	tw.Flush()
	var total int64
	for _, t := range f.Tensors() {
		total += int64(t.Size)
	}
	fmt.Fprintf(w, "\ntensors: %d, %d bytes\n", len(f.Tensors()), total)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  name\ttype\tshape\toffset\tsize\n")
	for _, t := range f.Tensors() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\n", t.Name, t.Type, shapeString(t.Shape), t.Offset, t.Size)
	}
	return tw.Flush()
}

func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// formatValue prints a value on one line: strings quoted, arrays cut to
// their first items followed by the length.
func formatValue(v any, items int) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return formatScalar(v)
	}
	n := rv.Len()
	shown := n
	if items >= 0 && n > items {
		shown = items
	}
	parts := make([]string, shown)
	for i := range shown {
		parts[i] = formatValue(rv.Index(i).Interface(), items)
	}
	s := "[" + strings.Join(parts, ", ")
	if shown < n {
		s += ", ..."
	}
	s += "]"
	if shown < n || rv.Type().Elem().Kind() == reflect.Interface {
		s += fmt.Sprintf(" (%d items)", n)
	}
	return s
}

func formatScalar(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 200 {
			return fmt.Sprintf("%q... (%d bytes)", x[:200], len(x))
		}
		return fmt.Sprintf("%q", x)
	case float32:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

type inspectReport struct {
	File       string          `json:"file"`
	Version    uint32          `json:"version"`
	Alignment  int             `json:"alignment"`
	Size       int64           `json:"size"`
	DataOffset int64           `json:"data_offset"`
	Metadata   []inspectKV     `json:"metadata"`
	Tensors    []inspectTensor `json:"tensors"`
}

type inspectKV struct {
	Key    string `json:"key"`
	Type   string `json:"type"`
	Value  any    `json:"value"`
	Length *int   `json:"length,omitempty"` // arrays: the full length, which value may cut
}

type inspectTensor struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Shape  []int  `json:"shape"`
	Offset uint64 `json:"offset"`
	Size   int    `json:"size"`
}

func inspectJSON(w io.Writer, path string, f *gguf.File, items int) error {
	r := inspectReport{File: path, Version: f.Version, Alignment: f.Alignment, Size: f.Size(), DataOffset: f.DataOffset,
		Metadata: []inspectKV{}, Tensors: []inspectTensor{}}
	for _, kv := range f.KVs() {
		e := inspectKV{Key: kv.Key, Type: kv.TypeName(), Value: jsonValue(kv.Value, items)}
		if rv := reflect.ValueOf(kv.Value); rv.Kind() == reflect.Slice {
			n := rv.Len()
			e.Length = &n
		}
		r.Metadata = append(r.Metadata, e)
	}
	for _, t := range f.Tensors() {
		r.Tensors = append(r.Tensors, inspectTensor{t.Name, t.Type.String(), t.Shape, t.Offset, t.Size})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// jsonValue makes a value encodable: arrays cut to items, NaN and
// infinities (which JSON lacks) as strings, bytes as numbers not base64.
func jsonValue(v any, items int) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		n := rv.Len()
		if items >= 0 && n > items {
			n = items
		}
		out := make([]any, n)
		for i := range n {
			out[i] = jsonValue(rv.Index(i).Interface(), items)
		}
		return out
	}
	switch x := v.(type) {
	case float32:
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprint(f)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	}
	return v
}
