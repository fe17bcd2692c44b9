package server

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// writeLog is a net.Conn that records each Write as one string.
type writeLog struct {
	net.Conn // nil: only Write is used
	writes   []string
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestBatchConn(t *testing.T) {
	newConn := func() (*batchConn, *writeLog) {
		w := &writeLog{}
		pool := &sync.Pool{New: func() any { b := make([]byte, 0, 16); return &b }}
		return &batchConn{Conn: w, bufs: pool}, w
	}
	tests := []struct {
		name string
		ops  string // c cork, a arm, f flushNow, other letters: Write that letter
		want []string
	}{
		{"uncorked writes go straight out", "xy", []string{"x", "y"}},
		{"a corked batch is one write at its armed last frame", "cxyazw", []string{"xyz", "w"}},
		{"a single-frame batch", "cazw", []string{"z", "w"}},
		{"flushNow sends what is buffered and uncorks", "cxyfzw", []string{"xy", "z", "w"}},
		{"flushNow with nothing buffered writes nothing", "cfxy", []string{"x", "y"}},
	}
	for _, tt := range tests {
		b, w := newConn()
		for _, op := range tt.ops {
			switch op {
			case 'c':
				b.cork()
			case 'a':
				b.arm()
			case 'f':
				b.flushNow()
			default:
				if n, err := b.Write([]byte{byte(op)}); n != 1 || err != nil {
					t.Fatalf("%s: Write(%c) = %d, %v", tt.name, op, n, err)
				}
			}
		}
		if fmt.Sprint(w.writes) != fmt.Sprint(tt.want) {
			t.Errorf("%s: ops %q wrote %q; want %q", tt.name, tt.ops, w.writes, tt.want)
		}
	}

	// A batch over maxBatchBytes flushes early and stays corked.
	b, w := newConn()
	b.cork()
	big := strings.Repeat("x", maxBatchBytes/2+1)
	b.Write([]byte(big))
	b.Write([]byte(big)) // would pass the cap: flushed with the first
	b.Write([]byte("y"))
	b.arm()
	b.Write([]byte("z"))
	if len(w.writes) != 2 || len(w.writes[0]) != 2*len(big) || w.writes[1] != "yz" {
		lens := []int{}
		for _, s := range w.writes {
			lens = append(lens, len(s))
		}
		t.Errorf("oversized batch wrote %v bytes; want [%d 2]", lens, 2*len(big))
	}
}
