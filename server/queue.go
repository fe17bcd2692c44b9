package server

import "sync"

// outQueue is a connection's bounded outbound queue: any goroutine pushes
// (the reader answering requests, NPC hosts emitting say/act), the
// connection's one writer goroutine pops. Pushing never blocks, so a slow
// client never slows the goroutine that produces for it, nor anyone else.
//
// At the limit (see the package comment for the policy): a droppable item is
// dropped; a non-droppable one first evicts the oldest queued droppable item;
// if there is none, push fails and the caller closes the connection (the
// client resumes and gets the sequenced messages back by replay).
type outQueue[T any] struct {
	limit     int
	droppable func(T) bool
	ready     chan struct{} // capacity 1: "items is non-empty or closed", for the writer

	mu     sync.Mutex // guards items and closed
	items  []T
	closed bool
}

func newOutQueue[T any](limit int, droppable func(T) bool) *outQueue[T] {
	return &outQueue[T]{limit: limit, droppable: droppable, ready: make(chan struct{}, 1)}
}

// pushResult says what push did beyond queueing.
type pushResult[T any] struct {
	queued  bool // v is in the queue
	dropped []T  // items dropped to honour the limit: v itself or an evicted older item
	closed  bool // the queue was closed; nothing was queued
}

// push queues v under the limit policy. It reports queued=false when v could
// not be queued: either v was droppable and dropped (then dropped holds v),
// or the queue is full of non-droppable items (dropped empty), or closed.
func (q *outQueue[T]) push(v T) pushResult[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return pushResult[T]{closed: true}
	}
	var res pushResult[T]
	if len(q.items) >= q.limit {
		if q.droppable(v) {
			return pushResult[T]{dropped: []T{v}}
		}
		i := q.oldestDroppable()
		if i < 0 {
			return pushResult[T]{}
		}
		res.dropped = []T{q.items[i]}
		q.items = append(q.items[:i], q.items[i+1:]...)
	}
	q.items = append(q.items, v)
	res.queued = true
	q.signal()
	return res
}

// pushAll queues vs regardless of the limit. Resume uses it for the welcome
// and the replay, which are bounded by the replay buffer's size instead.
func (q *outQueue[T]) pushAll(vs ...T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.items = append(q.items, vs...)
	q.signal()
	return true
}

// oldestDroppable returns the index of the oldest droppable item, or -1.
// Linear, but queues are short (hundreds) and this runs only when full.
func (q *outQueue[T]) oldestDroppable() int {
	for i, it := range q.items {
		if q.droppable(it) {
			return i
		}
	}
	return -1
}

func (q *outQueue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take moves every queued item into buf (reusing its storage) and returns it.
func (q *outQueue[T]) take(buf []T) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.items...)
	clear(q.items)
	q.items = q.items[:0]
	return buf
}

// len is the number of queued items.
func (q *outQueue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// close makes every later push fail; items already queued stay for the
// writer to flush or abandon.
func (q *outQueue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}
