package engine

import (
	"flag"
	"testing"

	"github.com/anima-rt/anima/internal/scripttest"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/*.txt script files")

// Script tests (internal/scripttest; inference/kvcache has them too): the
// machines that run the commands are in store_script_test.go (the prefix
// store) and scheduler_script_test.go (the scheduler).
type scriptCase = scripttest.Case

// runScripts runs every file matching pattern, each through a fresh
// machine from newMachine.
func runScripts(t *testing.T, pattern string, newMachine func(t *testing.T) func(*scriptCase) (string, error)) {
	scripttest.Run(t, pattern, *update, newMachine)
}

var (
	parseTokens = scripttest.Tokens
	intArg      = scripttest.Int
)
