//go:build !unix

package gguf

import (
	"fmt"
	"os"
)

// Open reads the GGUF file at path into memory and parses it: platforms
// without mmap pay the copy.
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: open: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return f, nil
}
