package server

import (
	"net"
	"sync"
)

// batchListener wraps each accepted connection in a batchConn.
type batchListener struct {
	net.Listener
	bufs *sync.Pool // of *[]byte, shared by the server's connections
}

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &batchConn{Conn: c, bufs: l.bufs}, nil
}

// batchConn lets a connection's writer send a batch of websocket frames in
// one write syscall instead of one per frame: by far the most time of a
// small message's send is the syscall. The writer corks before writing a
// batch's frames and arms the flush before the last one; every frame goes
// through the websocket library's Write under its write lock, so the flush,
// riding on the last frame's Write, is ordered with every other write
// (including close frames written from other goroutines meanwhile, which are
// buffered with the batch). The buffer comes from a pool for each batch, so
// an idle connection holds none.
type batchConn struct {
	net.Conn
	bufs *sync.Pool

	mu        sync.Mutex // guards buffering, armed, buf
	buffering bool       // buffer writes
	armed     bool       // the next Write flushes the buffer with itself and stops buffering
	buf       *[]byte    // pending bytes while buffering; from bufs
}

// maxBatchBytes caps a batch; a Write that would pass it flushes first.
const maxBatchBytes = 256 << 10

// cork starts buffering.
func (b *batchConn) cork() {
	b.mu.Lock()
	b.buffering, b.armed = true, false
	b.mu.Unlock()
}

// arm makes the next Write flush everything buffered, itself included, and
// stop buffering.
func (b *batchConn) arm() {
	b.mu.Lock()
	b.armed = true
	b.mu.Unlock()
}

// Write buffers p while corked, or writes it. The lock is never held
// during a network write: a stuck client must not block flushNow.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	if !b.buffering {
		b.mu.Unlock()
		return b.Conn.Write(p)
	}
	if b.buf == nil {
		b.buf = b.bufs.Get().(*[]byte)
	}
	if !b.armed && len(*b.buf)+len(p) <= maxBatchBytes {
		*b.buf = append(*b.buf, p...)
		b.mu.Unlock()
		return len(p), nil
	}
	// Flush the buffer with p in one write. Armed, the batch ends; full,
	// it goes on buffering in a fresh buffer.
	*b.buf = append(*b.buf, p...)
	buf := b.buf
	b.buf = nil
	if b.armed {
		b.buffering, b.armed = false, false
	}
	b.mu.Unlock()
	_, err := b.Conn.Write(*buf)
	b.put(buf)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// put returns a buffer to the pool unless it grew too large to keep.
func (b *batchConn) put(buf *[]byte) {
	if cap(*buf) <= maxBatchBytes*2 {
		*buf = (*buf)[:0]
		b.bufs.Put(buf)
	}
}

// flushNow writes whatever is buffered and stops buffering. kill calls it
// after writing a close frame from outside the writer, which a batch in
// progress would otherwise hold back. What it writes is whole frames: the
// websocket library finishes a frame before it lets the close frame in.
func (b *batchConn) flushNow() {
	b.mu.Lock()
	buf := b.buf
	b.buf = nil
	b.buffering, b.armed = false, false
	b.mu.Unlock()
	if buf == nil {
		return
	}
	if len(*buf) > 0 {
		b.Conn.Write(*buf) // best effort: the connection is being closed
	}
	b.put(buf)
}
