package kvcache

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/ script files")

// A script file is a list of cases, each a command line, a "----" line and
// the expected output, ended by a blank line (as Pebble's datadriven tests).
// Lines starting with # between cases are comments, kept by -update.
type scriptCase struct {
	pos      string
	cmd      string
	args     map[string]string
	line     string
	expected string
	head     string
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

// treeMachine runs script commands against a real Cache.
type treeMachine struct {
	c    *Cache
	seqs map[string]*Seq
}

func (m *treeMachine) seq(name string) *Seq {
	s, ok := m.seqs[name]
	if !ok {
		s = m.c.NewSeq()
		m.seqs[name] = s
	}
	return s
}

func (m *treeMachine) run(c *scriptCase) (string, error) {
	toks, err := parseTokens(c.args["tokens"])
	if err != nil {
		return "", err
	}
	num := func(k string) int {
		n, err2 := strconv.Atoi(c.args[k])
		if err2 != nil && err == nil {
			err = fmt.Errorf("argument %s=%q: %w", k, c.args[k], err2)
		}
		return n
	}
	var b strings.Builder
	switch c.cmd {
	case "init":
		bt, blocks := num("bt"), num("blocks")
		if err != nil {
			return "", err
		}
		cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: bt, Type: tensor.F32}
		cfg.Budget = int64(blocks) * int64(2*bt*cfg.HeadDim*4)
		if m.c, err = New(cfg); err != nil {
			return "", err
		}
		m.seqs = map[string]*Seq{}
		fmt.Fprintf(&b, "%d blocks of %d tokens, %d bytes each", m.c.Blocks(), m.c.BlockTokens(), m.c.BlockBytes())
	case "start":
		s := m.seq(c.args["s"])
		n := m.c.Start(s, toks)
		fmt.Fprintf(&b, "reused %d tokens: %v", n, s.Blocks())
	case "grow":
		s := m.seq(c.args["s"])
		n := num("n")
		if err != nil {
			return "", err
		}
		if err := m.c.Grow(s, n); err != nil {
			fmt.Fprintf(&b, "error: %v (out of blocks: %v)", err, errors.Is(err, ErrOutOfBlocks))
			break
		}
		fmt.Fprintf(&b, "table %v", s.Blocks())
	case "advance":
		s := m.seq(c.args["s"])
		if err := m.c.Advance(s, toks); err != nil {
			fmt.Fprintf(&b, "error: %v", err)
			break
		}
		fmt.Fprintf(&b, "len %d, table %v, shared %d", s.Len(), s.Blocks(), s.Shared())
	case "prefill": // grow and advance over the prompt's uncached part
		s := m.seq(c.args["s"])
		n := m.c.Start(s, toks)
		fmt.Fprintf(&b, "reused %d tokens\n", n)
		if err := m.c.Grow(s, len(toks)-n); err != nil {
			fmt.Fprintf(&b, "error: %v", err)
			break
		}
		if err := m.c.Advance(s, toks[n:]); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "len %d, table %v, shared %d", s.Len(), s.Blocks(), s.Shared())
	case "release":
		m.c.Release(m.seq(c.args["s"]))
		b.WriteString("ok")
	case "match":
		blocks, n := m.c.Match(toks, nil)
		fmt.Fprintf(&b, "%d tokens: %v", n, blocks)
	case "lru":
		s := m.c.sentinel()
		b.WriteString("oldest→")
		for x := m.c.next[s]; x != s; x = m.c.next[x] {
			fmt.Fprintf(&b, " %d", x)
		}
	case "tree":
		for x := range m.c.Blocks() {
			if !m.c.cached[x] {
				continue
			}
			t := m.c.tokens[x*m.c.bt : (x+1)*m.c.bt]
			fmt.Fprintf(&b, "block %d: parent %d, ref %d, children %d, tokens %d..%d\n", x, m.c.parent[x], m.c.ref[x], m.c.children[x], t[0], t[len(t)-1])
		}
	case "stats":
		st := m.c.Stats()
		fmt.Fprintf(&b, "free %d private %d held %d idle %d; %d/%d bytes\n", st.Free, st.Private, st.Held, st.Idle, st.Bytes, st.Budget)
		fmt.Fprintf(&b, "lookups %d hits %d tokens %d/%d reused (%d copied); published %d deduplicated %d evictions %d failures %d",
			st.Lookups, st.Hits, st.TokensReused, st.TokensLooked, st.TokensCopied, st.Published, st.Deduplicated, st.Evictions, st.Failures)
	default:
		return "", fmt.Errorf("unknown command %q", c.cmd)
	}
	return b.String(), err
}

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no script files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m := &treeMachine{}
			var out strings.Builder
			for _, c := range readScript(t, path) {
				got, err := m.run(c)
				if err != nil {
					t.Fatalf("%s: %s: %v", c.pos, c.line, err)
				}
				if m.c != nil {
					if err := m.c.Check(); err != nil {
						t.Fatalf("%s: after %s: %v", c.pos, c.line, err)
					}
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
