package engine

import (
	"container/heap"
	"sync"
)

// queue is the bounded priority queue of waiting requests: higher Priority
// first, then arrival order.
type queue struct {
	wake chan struct{} // capacity 1: a push or close since the scheduler last looked

	mu     sync.Mutex // guards the fields below
	h      jobHeap
	seq    uint64
	limit  int
	closed bool
}

func newQueue(limit int) *queue {
	return &queue{wake: make(chan struct{}, 1), limit: limit}
}

// push adds j, or says why it cannot wait.
func (q *queue) push(j *job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if len(q.h) >= q.limit {
		return ErrOverloaded
	}
	q.seq++
	j.seq = q.seq
	heap.Push(&q.h, j)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// tryPop takes the most urgent job, if any; closed reports a closed queue.
func (q *queue) tryPop() (j *job, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, true
	}
	if len(q.h) == 0 {
		return nil, false
	}
	return heap.Pop(&q.h).(*job), false
}

// peek returns the priority of the most urgent waiting job, if any.
func (q *queue) peek() (priority int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.h) == 0 {
		return 0, false
	}
	return q.h[0].req.Priority, true
}

// wait blocks until a push or close since the last wait (or since the
// queue was made): a caller that found the queue empty and then waits
// cannot miss a push in between.
func (q *queue) wait() { <-q.wake }

// remove takes j out of the queue if it is still waiting.
func (q *queue) remove(j *job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.index < 0 {
		return false
	}
	heap.Remove(&q.h, j.index)
	return true
}

// close refuses new jobs and fails the waiting ones with ErrClosed.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	for _, j := range q.h {
		j.index = -1
		j.finish(Result{}, ErrClosed)
	}
	q.h = nil
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

// jobHeap implements heap.Interface; index fields track positions so that
// a cancelled job can be removed.
type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(a, b int) bool {
	if h[a].req.Priority != h[b].req.Priority {
		return h[a].req.Priority > h[b].req.Priority
	}
	return h[a].seq < h[b].seq
}
func (h jobHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].index, h[b].index = a, b
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*h = old[:len(old)-1]
	return j
}
