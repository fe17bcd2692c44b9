package behavior

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/ script files")

// A script test file is a list of cases, each a command line, optional input
// lines, a "----" line and the expected output, ended by a blank line (as in
// Pebble's datadriven tests). Lines starting with # between cases are
// comments.
type scriptCase struct {
	pos      string // file:line of the command
	cmd      string
	args     []string
	input    string
	expected string
	head     string // the comment lines before the command, kept by -update
}

func readScript(t testing.TB, path string) (lines []string, cases []*scriptCase) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
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
		c := &scriptCase{pos: fmt.Sprintf("%s:%d", path, i+1), head: strings.Join(head, "\n")}
		head = nil
		f := strings.Fields(l)
		c.cmd, c.args = f[0], f[1:]
		i++
		var in []string
		for i < len(lines) && lines[i] != "----" {
			in = append(in, lines[i])
			i++
		}
		if i == len(lines) {
			t.Fatalf("%s: no ---- after the command", c.pos)
		}
		i++
		var out []string
		for i < len(lines) && lines[i] != "" {
			out = append(out, lines[i])
			i++
		}
		c.input = strings.Join(in, "\n")
		c.expected = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return lines, cases
}

// runScript runs every case of a file through run and compares (or, with
// -update, rewrites) the expected output.
func runScript(t *testing.T, path string, run func(c *scriptCase) string) {
	t.Helper()
	_, cases := readScript(t, path)
	var b strings.Builder
	for _, c := range cases {
		got := strings.TrimRight(run(c), "\n")
		if *update {
			if c.head != "" {
				b.WriteString(c.head + "\n")
			}
			fmt.Fprintf(&b, "%s\n", strings.Join(append([]string{c.cmd}, c.args...), " "))
			if c.input != "" {
				b.WriteString(c.input + "\n")
			}
			fmt.Fprintf(&b, "----\n")
			if got != "" {
				b.WriteString(got + "\n")
			}
			b.WriteString("\n")
			continue
		}
		if got != c.expected {
			t.Errorf("%s: %s %s:\ngot:\n%s\nwant:\n%s", c.pos, c.cmd, strings.Join(c.args, " "), got, c.expected)
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is the game and the npc layer of script tests: it writes what
// the tree asks of them into the case's output.
type recorder struct {
	out *strings.Builder
}

func (r recorder) Act(npc string, id uint64, name string, args []Arg) {
	fmt.Fprintf(r.out, "act #%d %s", id, name)
	for _, a := range args {
		fmt.Fprintf(r.out, " %s=%s", a.Name, a.Value.Quoted())
	}
	r.out.WriteString("\n")
}

func (r recorder) Cancel(npc string, id uint64, reason string) {
	fmt.Fprintf(r.out, "cancel #%d (%s)\n", id, reason)
}

func (r recorder) Think(npc string, reason string) {
	fmt.Fprintf(r.out, "think %q\n", reason)
}

// machine is the state of one script file's run.
type machine struct {
	files map[string]string
	inst  *Instance
	now   time.Time
	out   strings.Builder
}

func arg(c *scriptCase, key, def string) string {
	for _, a := range c.args {
		if k, v, ok := strings.Cut(a, "="); ok && k == key {
			return v
		} else if !ok && a == key {
			return "true"
		}
	}
	return def
}

func (m *machine) run(c *scriptCase) string {
	m.out.Reset()
	switch c.cmd {
	case "file":
		m.files[c.args[0]] = c.input
		return "ok"
	case "load":
		opts := Options{Include: func(from, path string) (string, []byte, error) {
			s, ok := m.files[path]
			if !ok {
				return "", nil, fmt.Errorf("no file %q", path)
			}
			return path, []byte(s), nil
		}}
		if a := arg(c, "actions", ""); a != "" {
			opts.KnownActions = map[string]bool{}
			for _, n := range strings.Split(a, ",") {
				opts.KnownActions[n] = true
			}
		}
		file := arg(c, "file", "test.xml")
		data := []byte(c.input)
		if path := arg(c, "path", ""); path != "" {
			// A real tree file, with its includes read beside it.
			dir := filepath.Dir(path)
			file = filepath.Base(path)
			opts.Include = func(from, inc string) (string, []byte, error) {
				b, err := os.ReadFile(filepath.Join(dir, inc))
				return inc, b, err
			}
			var err error
			if data, err = os.ReadFile(path); err != nil {
				return err.Error()
			}
		}
		lib := NewLibrary(opts)
		if err := lib.Add(file, data); err != nil {
			return err.Error()
		}
		id := arg(c, "main", lib.Main(file))
		tree, err := lib.Tree(id)
		if err != nil {
			return err.Error()
		}
		m.inst = NewInstance(tree, "npc1", recorder{&m.out}, recorder{&m.out})
		m.now = time.Unix(1000, 0)
		return fmt.Sprintf("ok %d nodes", tree.Len())
	case "tick":
		n, _ := strconv.Atoi(arg(c, "n", "1"))
		trace := arg(c, "trace", "") != ""
		m.inst.SetTracing(trace)
		for k := 0; k < n; k++ {
			s := m.inst.Tick(m.now)
			fmt.Fprintf(&m.out, "=> %s\n", s)
			if trace {
				m.writeTrace()
			}
		}
		return m.out.String()
	case "advance":
		d, err := time.ParseDuration(c.args[0])
		if err != nil {
			return err.Error()
		}
		m.now = m.now.Add(d)
		return fmt.Sprintf("t=%s", m.now.Sub(time.Unix(1000, 0)))
	case "resolve":
		id, _ := strconv.ParseUint(strings.TrimPrefix(c.args[0], "#"), 10, 64)
		if m.inst.Resolve(id, c.args[1] == "success") {
			return "ok"
		}
		return "ignored"
	case "set":
		for _, a := range c.args {
			k, v, _ := strings.Cut(a, "=")
			if err := m.inst.Set(k, scriptValue(v)); err != nil {
				fmt.Fprintf(&m.out, "%v\n", err)
			}
		}
		if m.out.Len() == 0 {
			return "ok"
		}
		return m.out.String()
	case "get":
		var parts []string
		for _, k := range c.args {
			v, _ := m.inst.Get(k)
			parts = append(parts, fmt.Sprintf("%s=%s", k, v.Quoted()))
		}
		return strings.Join(parts, " ")
	case "halt":
		m.inst.Halt("halted")
		return m.out.String() + "ok"
	case "failure":
		n, reason, ok := m.inst.LastFailure()
		if !ok {
			return "none"
		}
		return fmt.Sprintf("%s: %s", m.inst.Tree().Node(n).Label(), reason)
	case "statuses":
		st := m.inst.AppendStatuses(nil)
		for i, s := range st {
			ni := m.inst.Tree().Node(i)
			fmt.Fprintf(&m.out, "%s%s %s\n", strings.Repeat("  ", ni.Depth), ni.Label(), s)
		}
		return m.out.String()
	}
	return fmt.Sprintf("unknown command %q", c.cmd)
}

func (m *machine) writeTrace() {
	text := m.inst.Tree().AppendTraceText(nil, m.inst.AppendTrace(nil))
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if line != "" {
			m.out.WriteString("  " + line)
		}
	}
}

// scriptValue parses a value as scripts write it: 'text', true, 3, 2.5.
func scriptValue(s string) Value {
	switch {
	case strings.HasPrefix(s, "'"):
		return String(strings.Trim(s, "'"))
	case s == "true" || s == "false":
		return Bool(s == "true")
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return Int(i)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return Float(f)
	}
	return String(s)
}

// TestScripts runs every script file in testdata/scripts/.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/scripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no script files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m := &machine{files: map[string]string{}}
			runScript(t, f, m.run)
		})
	}
}
