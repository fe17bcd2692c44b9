package server

import "time"

// tokenBucket is a message-rate limiter: it holds up to burst tokens, refills
// at rate per second, and each message takes one. Time is passed in, so tests
// need no sleeps. Not safe for concurrent use: each connection's reader owns
// its bucket.
type tokenBucket struct {
	rate   float64 // tokens per second
	burst  float64 // capacity
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

func newTokenBucket(rate float64, burst int, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// allow takes one token if there is one.
func (b *tokenBucket) allow(now time.Time) bool {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// errorWindow decides when errors become abuse: more than limit errors within
// window. It keeps the times of the last limit errors in a ring, so it costs
// O(limit) memory whatever the error rate. Owned by one reader goroutine.
type errorWindow struct {
	window time.Duration
	times  []time.Time // ring of the last len(times) error times
	next   int         // ring position of the oldest entry once full
	n      int         // entries filled, up to len(times)
}

func newErrorWindow(limit int, window time.Duration) *errorWindow {
	return &errorWindow{window: window, times: make([]time.Time, limit)}
}

// add records an error at now and reports whether limit errors have now
// happened within the window.
func (w *errorWindow) add(now time.Time) bool {
	w.times[w.next] = now
	w.next = (w.next + 1) % len(w.times)
	if w.n < len(w.times) {
		w.n++
	}
	if w.n < len(w.times) {
		return false
	}
	// Full: w.next is now the oldest of the last len(times) errors.
	return now.Sub(w.times[w.next]) < w.window
}
