package behavior

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// SchedulerConfig sets how a Scheduler ticks.
type SchedulerConfig struct {
	Rate    float64 // ticks per second for each instance; default 10
	Buckets int     // slices of the tick period; a step ticks one slice; default 10
	Workers int     // goroutines that tick a step's instances; default GOMAXPROCS

	// Lag, if set, is told after each step of Run that ticked anything how
	// late its ticks ran: from when the step was due to when its last tick
	// returned, on the Now clock (default time.Now). A step is due one
	// period (1/Rate) after its bucket's previous step, or when its tick
	// arrived if that is sooner, so ticks that a slow Run made a
	// time.Ticker drop count as lag. It runs on Run's goroutine: keep it
	// cheap (a histogram's Observe).
	Lag func(time.Duration)
	Now func() time.Time
}

// Scheduler ticks many Instances at a fixed rate on a fixed pool of
// workers. Instances are spread over Buckets slices of the period, one slice
// ticked per step, so the work is even over time instead of a burst every
// period: at 10 Hz with 10 buckets, a step every 10 ms ticks a tenth of the
// NPCs. Steps allocate nothing.
type Scheduler struct {
	rate    float64
	workers int
	lag     func(time.Duration) // nil: lag is not measured
	now     func() time.Time

	// mu guards buckets, next and the bucket/pos fields of scheduled
	// Instances. A step holds it while its instances tick, so Add and Remove
	// wait at most one step (and must not be called from an Actuator or a
	// Thinker).
	mu      sync.Mutex
	buckets [][]*Instance
	next    int // the bucket the next step ticks
	// ticked is when each bucket's last step in Run was due to start (its
	// tick's time), for Lag.
	ticked []time.Time

	ticks atomic.Uint64 // instance ticks done, for metrics
}

// ErrScheduled is returned by Add for an Instance already in a Scheduler.
var ErrScheduled = errors.New("behavior: instance is already scheduled")

// NewScheduler returns an empty Scheduler.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Rate <= 0 {
		cfg.Rate = 10
	}
	if cfg.Buckets <= 0 {
		cfg.Buckets = 10
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Scheduler{rate: cfg.Rate, workers: cfg.Workers, lag: cfg.Lag, now: cfg.Now,
		buckets: make([][]*Instance, cfg.Buckets), ticked: make([]time.Time, cfg.Buckets)}
}

// Interval is the time between steps: feed Run a ticker of this interval.
func (s *Scheduler) Interval() time.Duration {
	return time.Duration(float64(time.Second) / s.rate / float64(len(s.buckets)))
}

// Add schedules in, in the emptiest bucket.
func (s *Scheduler) Add(in *Instance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.bucket >= 0 {
		return ErrScheduled
	}
	b := 0
	for i := range s.buckets {
		if len(s.buckets[i]) < len(s.buckets[b]) {
			b = i
		}
	}
	in.bucket, in.pos = b, len(s.buckets[b])
	s.buckets[b] = append(s.buckets[b], in)
	return nil
}

// Remove unschedules in (a no-op if it is not scheduled). It does not halt
// the tree: call in.Halt to cancel its running acts.
func (s *Scheduler) Remove(in *Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.bucket < 0 || in.bucket >= len(s.buckets) {
		return
	}
	b := s.buckets[in.bucket]
	if in.pos >= len(b) || b[in.pos] != in {
		return // another Scheduler's
	}
	last := b[len(b)-1]
	b[in.pos], last.pos = last, in.pos
	b[len(b)-1] = nil
	s.buckets[in.bucket] = b[:len(b)-1]
	in.bucket, in.pos = -1, 0
}

// Len returns the number of scheduled instances.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.buckets {
		n += len(b)
	}
	return n
}

// Ticks returns how many instance ticks the scheduler has done.
func (s *Scheduler) Ticks() uint64 { return s.ticks.Load() }

// Step ticks the next bucket at time now, on the calling goroutine. Run
// does the same on its workers; Step is for callers that drive time
// themselves (tests, a game's own loop).
func (s *Scheduler) Step(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.advance()
	tickAll(b, now)
	s.ticks.Add(uint64(len(b)))
}

// advance returns the bucket to tick and moves on; mu must be held.
func (s *Scheduler) advance() []*Instance {
	b := s.buckets[s.next]
	s.next++
	if s.next == len(s.buckets) {
		s.next = 0
	}
	return b
}

func tickAll(list []*Instance, now time.Time) {
	for _, in := range list {
		in.Tick(now)
	}
}

// due returns when the step about to tick bucket s.next was due, given
// that its tick arrived stamped now, and records now as that bucket's
// latest; mu must be held.
func (s *Scheduler) due(now time.Time) time.Time {
	prev := s.ticked[s.next]
	s.ticked[s.next] = now
	if period := time.Duration(float64(time.Second) / s.rate); !prev.IsZero() && prev.Add(period).Before(now) {
		return prev.Add(period)
	}
	return now
}

// span is one worker's share of a step.
type span struct {
	list []*Instance
	now  time.Time
	done *sync.WaitGroup
}

// Run ticks one bucket per value received from ticks (a time.Ticker's C at
// Interval, or a test's channel: the clock is the caller's), splitting each
// step across the workers, until ctx is cancelled (it returns ctx's error)
// or ticks is closed (it returns nil).
func (s *Scheduler) Run(ctx context.Context, ticks <-chan time.Time) error {
	work := make(chan span)
	defer close(work)
	for w := 1; w < s.workers; w++ {
		// Each worker exits when Run returns and closes work.
		go func() {
			for sp := range work {
				tickAll(sp.list, sp.now)
				sp.done.Done()
			}
		}()
	}
	var wg sync.WaitGroup
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now, ok := <-ticks:
			if !ok {
				return nil
			}
			s.mu.Lock()
			due := s.due(now)
			b := s.advance()
			n := len(b)
			chunk := (n + s.workers - 1) / s.workers
			for len(b) > chunk {
				wg.Add(1)
				work <- span{list: b[:chunk], now: now, done: &wg}
				b = b[chunk:]
			}
			tickAll(b, now) // the last share runs here
			wg.Wait()
			s.ticks.Add(uint64(n))
			s.mu.Unlock()
			if s.lag != nil && n > 0 {
				s.lag(max(0, s.now().Sub(due)))
			}
		}
	}
}
