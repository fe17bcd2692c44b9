package remote

import (
	"sync"
	"time"
)

// State is a circuit breaker's state.
type State string

const (
	Closed   State = "closed"    // requests go to the server
	Open     State = "open"      // requests fail fast (or go to the fallback) until the cool-down ends
	HalfOpen State = "half-open" // one probe request goes to the server; its outcome closes or reopens the circuit
)

// breaker opens after threshold consecutive failures, so a dead server
// costs each request nothing rather than a timeout; after cooldown it lets
// one probe through, and closes on its success.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu       sync.Mutex // guards the fields below
	state    State
	failures int // consecutive, while closed
	openedAt time.Time
	probing  bool // a half-open probe is in flight
	opens    int  // times opened, for Stats
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, now: now, state: Closed}
}

// allow reports whether a request may go to the server now.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Open:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.state = HalfOpen
		fallthrough
	case HalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
	}
	return true
}

// success records a request the server answered.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state, b.failures, b.probing = Closed, 0, false
}

// failure records a request the server failed (unreachable, timed out, 5xx).
func (b *breaker) failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.state == HalfOpen || b.failures >= b.threshold {
		if b.state != Open {
			b.opens++
		}
		b.state, b.openedAt = Open, b.now()
	}
	b.probing = false
}

// neutral records a request that ended for its own reasons (cancelled, a
// 4xx): it says nothing of the server's health, but frees the probe.
func (b *breaker) neutral() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

func (b *breaker) snapshot() (State, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state
	if s == Open && b.now().Sub(b.openedAt) >= b.cooldown {
		s = HalfOpen // the next request will probe
	}
	return s, b.opens
}
