package server

// replayBuffer keeps a session's last sequenced server→client messages so a
// client that resumes gets what it missed, in order. Sequence numbers are
// contiguous per session and start at 1; the buffer holds the newest cap of
// them. Not safe for concurrent use: the session's mutex guards it.
type replayBuffer[T any] struct {
	ring  []T    // capacity cap; ring[(start+i)%cap] has seq first+i
	start int    // ring index of the oldest message
	n     int    // messages held
	first uint64 // seq of the oldest message held (meaningful when n > 0)
	next  uint64 // seq the next message gets
}

func newReplayBuffer[T any](capacity int) *replayBuffer[T] {
	return &replayBuffer[T]{ring: make([]T, capacity), next: 1, first: 1}
}

// nextSeq is the sequence number the next add will assign.
func (b *replayBuffer[T]) nextSeq() uint64 { return b.next }

// lastSeq is the sequence number of the newest message, 0 if none yet.
func (b *replayBuffer[T]) lastSeq() uint64 { return b.next - 1 }

// add appends v, which the caller has stamped with nextSeq(), evicting the
// oldest message when full.
func (b *replayBuffer[T]) add(v T) {
	c := len(b.ring)
	if b.n == c {
		var zero T
		b.ring[b.start] = zero
		b.start = (b.start + 1) % c
		b.n--
		b.first++
	}
	b.ring[(b.start+b.n)%c] = v
	b.n++
	b.next++
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
