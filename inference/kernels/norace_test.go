//go:build !race

package kernels

// raceEnabled says the race detector is on; see race_test.go.
const raceEnabled = false
