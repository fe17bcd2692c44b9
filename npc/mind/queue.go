package mind

import (
	"sync"
	"time"
)

// congestedAfter is how long the oldest think of a priority may have
// waited before its queue counts as congested and is served newest first.
const congestedAfter = time.Second

// thinkQueue holds the thinks waiting for a worker, players' lines apart
// from everything else, each oldest first.
//
// Served in order while it keeps up, a queue that falls behind (more
// lines than the model answers) would make every line wait about as long
// as the deadline: all answered too late to matter, or not at all. So a
// congested priority (its oldest think waited over congestedAfter) is
// served newest first — the lines still worth answering get answered at
// once — except that a think already past its deadline is taken first,
// to be refused at once (think tells its player), which keeps the backlog
// from growing without bound. This is adaptive LIFO, as large services
// run their overloaded request queues.
type thinkQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	player  []*job
	ambient []*job
	limit   int // per priority
	closed  bool
	// deadline is a job's wait limit (the Host's player or ambient one).
	deadline func(*job) time.Duration
	now      func() time.Time
}

func newThinkQueue(limit int, deadline func(*job) time.Duration, now func() time.Time) *thinkQueue {
	q := &thinkQueue{limit: limit, deadline: deadline, now: now}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push queues j by its priority; false when that queue is full.
func (q *thinkQueue) push(j *job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	list := &q.ambient
	if j.prio >= PriorityPlayer {
		list = &q.player
	}
	if q.closed || len(*list) >= q.limit {
		return false
	}
	*list = append(*list, j)
	// Broadcast: a reserved worker woken for an ambient think would sleep
	// again and leave it to the others.
	q.cond.Broadcast()
	return true
}

// pop waits for a think: players' first; ambient ones too unless reserved.
// It returns false once the queue is closed.
func (q *thinkQueue) pop(reserved bool) (*job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed {
		if j := q.take(&q.player); j != nil {
			return j, true
		}
		if !reserved {
			if j := q.take(&q.ambient); j != nil {
				return j, true
			}
		}
		q.cond.Wait()
	}
	return nil, false
}

// take removes the think to serve next from list, or returns nil.
func (q *thinkQueue) take(list *[]*job) *job {
	l := *list
	if len(l) == 0 {
		return nil
	}
	waited := q.now().Sub(l[0].at)
	if waited < congestedAfter || waited >= q.deadline(l[0]) {
		j := l[0]
		l[0] = nil
		*list = l[1:]
		return j
	}
	j := l[len(l)-1]
	l[len(l)-1] = nil
	*list = l[:len(l)-1]
	return j
}

// close wakes every worker to exit.
func (q *thinkQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}
