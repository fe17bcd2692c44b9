package server

// replayBuffer keeps a session's last sequenced server→client messages so a
// client that resumes gets what it missed, in order. Sequence numbers are
// contiguous per session and start at 1; the buffer holds the newest cap of
// them. Not safe for concurrent use: the session's mutex guards it.
type replayBuffer[T any] struct {
	ring  []T    // grows up to limit, then wraps; ring[(start+i)%len] has seq first+i
	limit int    // messages kept at most
	start int    // ring index of the oldest message
	n     int    // messages held
	first uint64 // seq of the oldest message held (meaningful when n > 0)
	next  uint64 // seq the next message gets
}

// newReplayBuffer returns an empty buffer that keeps up to limit messages.
// Storage grows with use: an idle session costs next to nothing.
func newReplayBuffer[T any](limit int) *replayBuffer[T] {
	return &replayBuffer[T]{limit: limit, next: 1, first: 1}
}

// nextSeq is the sequence number the next add will assign.
func (b *replayBuffer[T]) nextSeq() uint64 { return b.next }

// lastSeq is the sequence number of the newest message, 0 if none yet.
func (b *replayBuffer[T]) lastSeq() uint64 { return b.next - 1 }

// add appends v, which the caller has stamped with nextSeq(), evicting the
// oldest message when full.
func (b *replayBuffer[T]) add(v T) {
	b.next++
	if len(b.ring) < b.limit { // still growing: start is 0, n == len(ring)
		b.ring = append(b.ring, v)
		b.n++
		return
	}
	// Full: overwrite the oldest.
	b.ring[b.start] = v
	b.start = (b.start + 1) % len(b.ring)
	b.first++
}

// since returns, in order, the held messages with seq > last, and how many
// messages after last are gone for good (evicted before the client came
// back). A last beyond the newest seq (a confused client) replays nothing.
func (b *replayBuffer[T]) since(last uint64) (msgs []T, missed uint64) {
	if last >= b.lastSeq() {
		return nil, 0
	}
	from := last + 1
	if from < b.first {
		missed = b.first - from
		from = b.first
	}
	c := len(b.ring)
	msgs = make([]T, 0, b.next-from)
	for s := from; s < b.next; s++ {
		msgs = append(msgs, b.ring[(b.start+int(s-b.first))%c])
	}
	return msgs, missed
}

// oldest is the seq of the oldest message still held (nextSeq if none).
func (b *replayBuffer[T]) oldest() uint64 {
	if b.n == 0 {
		return b.next
	}
	return b.first
}
