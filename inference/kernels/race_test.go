//go:build race

package kernels

// raceEnabled says the race detector is on: it slows the pool's stress
// tests about tenfold and makes allocation counts meaningless.
const raceEnabled = true
