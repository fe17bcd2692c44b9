// Package scripttest runs script tests (as Pebble's datadriven tests): a
// file under testdata/ is a list of cases, each a command line, a "----"
// line and the output expected, ended by a blank line. Lines starting with
// # between cases are comments, kept when -update rewrites the expected
// outputs. A package's machine, built fresh for each file, runs the
// commands; this package reads the files, compares and rewrites.
package scripttest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Case is one command of a script.
type Case struct {
	Pos      string            // file:line, for messages
	Line     string            // the command line as written
	Cmd      string            // its first word
	Args     map[string]string // its key=value words
	Expected string
	Head     string // the comment lines before it
}

// Read parses the script file at path.
func Read(t testing.TB, path string) []*Case {
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
	var cases []*Case
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
		c := &Case{Pos: fmt.Sprintf("%s:%d", path, i+1), Line: l, Head: strings.Join(head, "\n"), Args: map[string]string{}}
		head = nil
		f := strings.Fields(l)
		c.Cmd = f[0]
		for _, a := range f[1:] {
			k, v, _ := strings.Cut(a, "=")
			c.Args[k] = v
		}
		i++
		if i == len(lines) || lines[i] != "----" {
			t.Fatalf("%s: want ---- after the command", c.Pos)
		}
		i++
		var out []string
		for i < len(lines) && lines[i] != "" {
			out = append(out, lines[i])
			i++
		}
		c.Expected = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases
}

// Run runs every file matching pattern, each as a subtest through a fresh
// machine from newMachine, whose function executes one case and returns
// its output; an error stops the file (a broken script or a broken
// invariant, not a wrong answer). With update, the files are rewritten
// with the outputs got instead of compared.
func Run(t *testing.T, pattern string, update bool, newMachine func(t *testing.T) func(*Case) (string, error)) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no script files %s: %v", pattern, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			run := newMachine(t)
			var out strings.Builder
			for _, c := range Read(t, path) {
				got, err := run(c)
				if err != nil {
					t.Fatalf("%s: %s: %v", c.Pos, c.Line, err)
				}
				got = strings.TrimRight(got, "\n")
				if update {
					if c.Head != "" {
						out.WriteString(c.Head + "\n")
					}
					fmt.Fprintf(&out, "%s\n----\n", c.Line)
					if got != "" {
						out.WriteString(got + "\n")
					}
					out.WriteString("\n")
					continue
				}
				if got != c.Expected {
					t.Errorf("%s: %s:\ngot:\n%s\nwant:\n%s", c.Pos, c.Line, got, c.Expected)
				}
			}
			if update {
				if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// Tokens reads a token list: comma-separated ids or inclusive ranges
// a..b, so "0..31,900" is 33 tokens.
func Tokens(s string) ([]int32, error) {
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

// Int reads the integer argument k of c, or def when it is absent.
func Int(c *Case, k string, def int) (int, error) {
	s, ok := c.Args[k]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("argument %s=%q: %w", k, s, err)
	}
	return n, nil
}
