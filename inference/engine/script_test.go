package engine

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/*.txt script files")

// Script tests (as Pebble's datadriven tests, and inference/kvcache's): a
// file under testdata/ is a list of cases, each a command line, a "----"
// line and the output expected, ended by a blank line. Lines starting with
// # between cases are comments, kept by -update. The machines that run the
// commands are in store_script_test.go (the prefix store) and
// scheduler_script_test.go (the scheduler).
type scriptCase struct {
	pos      string            // file:line, for messages
	line     string            // the command line as written
	cmd      string            // its first word
	args     map[string]string // its key=value words
	expected string
	head     string // the comment lines before it
}

func readScript(t *testing.T, path string) []*scriptCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var cases []*scriptCase
	var head []string
	for i := 0; i < len(lines); {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			if strings.HasPrefix(l, "#") {
				head = append(head, l)
			}
			i++
			continue
		}
		c := &scriptCase{pos: fmt.Sprintf("%s:%d", path, i+1), line: l, head: strings.Join(head, "\n"), args: map[string]string{}}
		head = nil
		f := strings.Fields(l)
		c.cmd = f[0]
		for _, a := range f[1:] {
			k, v, _ := strings.Cut(a, "=")
			c.args[k] = v
		}
		i++
		if i == len(lines) || lines[i] != "----" {
			t.Fatalf("%s: want ---- after the command", c.pos)
		}
		i++
		var out []string
		for i < len(lines) && lines[i] != "" {
			out = append(out, lines[i])
			i++
		}
		c.expected = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases
}

// runScripts runs every file matching pattern, each through a fresh
// machine from newMachine: run executes one case and returns its output;
// an error stops the file (a broken script, not a wrong answer).
func runScripts(t *testing.T, pattern string, newMachine func(t *testing.T) func(*scriptCase) (string, error)) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no script files %s: %v", pattern, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			run := newMachine(t)
			var out strings.Builder
			for _, c := range readScript(t, path) {
				got, err := run(c)
				if err != nil {
					t.Fatalf("%s: %s: %v", c.pos, c.line, err)
				}
				got = strings.TrimRight(got, "\n")
				if *update {
					if c.head != "" {
						out.WriteString(c.head + "\n")
					}
					fmt.Fprintf(&out, "%s\n----\n", c.line)
					if got != "" {
						out.WriteString(got + "\n")
					}
					out.WriteString("\n")
					continue
				}
				if got != c.expected {
					t.Errorf("%s: %s:\ngot:\n%s\nwant:\n%s", c.pos, c.line, got, c.expected)
				}
			}
			if *update {
				if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// parseTokens reads a token list: comma-separated ids or inclusive ranges
// a..b, so "0..31,900" is 33 tokens.
func parseTokens(s string) ([]int32, error) {
	var out []int32
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "..")
		lo, err := strconv.Atoi(a)
		if err != nil {
			return nil, fmt.Errorf("token %q: %w", part, err)
		}
		hi := lo
		if isRange {
			if hi, err = strconv.Atoi(b); err != nil {
				return nil, fmt.Errorf("token range %q: %w", part, err)
			}
		}
		for x := lo; x <= hi; x++ {
			out = append(out, int32(x))
		}
	}
	return out, nil
}

// intArg reads the integer argument k of c, or def when it is absent.
func intArg(c *scriptCase, k string, def int) (int, error) {
	s, ok := c.args[k]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("argument %s=%q: %w", k, s, err)
	}
	return n, nil
}
