//go:build unix

package gguf

import (
	"fmt"
	"os"
	"syscall"
)

// Open memory-maps the GGUF file at path read-only and parses it. Tensor
// data is paged in by the kernel on first touch and shared with the page
// cache, so opening a multi-gigabyte model costs only its metadata. Close
// unmaps the file.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: open: %w", err)
	}
	defer fd.Close() // the mapping outlives the descriptor
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: open %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("gguf: open %s: not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		return nil, fmt.Errorf("gguf: open %s: empty file", path)
	}
	if size != int64(int(size)) {
		return nil, fmt.Errorf("gguf: open %s: %d bytes is too large to map", path, size)
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("gguf: open %s: mmap: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		syscall.Munmap(data)
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	f.release = func() error { return syscall.Munmap(data) }
	return f, nil
}
