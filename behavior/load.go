package behavior

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	pathpkg "path"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Limits on what a tree file may contain, checked while reading so a hostile
// or broken file costs bounded memory and time.
const (
	MaxFileSize  = 8 << 20 // bytes in one tree file
	maxElements  = 100_000 // XML elements in one file
	maxDepth     = 256     // XML nesting
	maxNodes     = 1 << 14 // nodes in one compiled tree, after subtrees are expanded
	maxIncludes  = 64      // files pulled in by <include>
	maxPortCount = 64      // attributes on one element
)

// element is one XML element of a tree file and where it starts.
type element struct {
	tag      string
	attrs    []xml.Attr
	children []*element
	file     string
	line     int
}

func (e *element) attr(name string) (string, bool) {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// parseXML reads a whole tree file into elements, with line numbers.
func parseXML(file string, data []byte) (*element, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{file, 0, fmt.Sprintf("file is %d bytes; the limit is %d", len(data), MaxFileSize)}
	}
	lines := newLineStarts(data)
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var root *element
	var stack []*element
	count := 0
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &Error{file, se.Line, "malformed XML: " + se.Msg}
			}
			return nil, &Error{file, lines.line(d.InputOffset()), "malformed XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxElements {
				return nil, &Error{file, lines.line(off), fmt.Sprintf("more than %d elements", maxElements)}
			}
			if len(stack) >= maxDepth {
				return nil, &Error{file, lines.line(off), fmt.Sprintf("elements nested deeper than %d", maxDepth)}
			}
			if len(t.Attr) > maxPortCount {
				return nil, &Error{file, lines.line(off), fmt.Sprintf("<%s> has more than %d attributes", t.Name.Local, maxPortCount)}
			}
			el := &element{tag: t.Name.Local, file: file, line: lines.line(off)}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				el.attrs = append(el.attrs, a)
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, &Error{file, el.line, "more than one root element"}
				}
				root = el
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, el)
			}
			stack = append(stack, el)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, &Error{file, 0, "no XML element: expected <root BTCPP_format=\"4\">"}
	}
	return root, nil
}

// lineStarts holds the byte offset at which each line starts.
type lineStarts []int64

func newLineStarts(data []byte) lineStarts {
	starts := lineStarts{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, int64(i+1))
		}
	}
	return starts
}

// line returns the 1-based line holding byte offset off.
func (l lineStarts) line(off int64) int {
	return sort.Search(len(l), func(i int) bool { return l[i] > off })
}

// Options configure a Library.
type Options struct {
	// Include returns the contents of a file named by <include path="...">
	// in file from, and the name to report it under (its path, typically
	// relative to from's folder). Nil: includes are an error. A name already
	// loaded is not loaded twice.
	Include func(from, path string) (name string, data []byte, err error)
	// KnownActions, when not nil, lists the act names the game accepts;
	// an <Act name="..."> or declared action outside it is an error.
	KnownActions map[string]bool
}

// Library holds the BehaviorTree definitions and node declarations of one or
// more tree files, as BehaviorTree.CPP's factory does, and compiles trees
// from them. It is safe for concurrent use. Tree compiles an ID once and
// returns the same immutable Tree after, for any number of Instances to
// share; adding files forgets compiled trees.
type Library struct {
	opts Options

	// mu guards the maps below.
	mu       sync.Mutex
	trees    map[string]*treeDef // by BehaviorTree ID
	models   map[string]*model   // TreeNodesModel declarations, by ID
	files    map[string]*fileDef // by file name
	compiled map[string]*Tree    // by BehaviorTree ID
}

type treeDef struct {
	id   string
	el   *element // the <BehaviorTree>
	root *element // its one child
}

// model is a node type declared in a TreeNodesModel.
type model struct {
	id    string
	class class
	ports []portSpec
	el    *element
}

type fileDef struct {
	main  string   // main_tree_to_execute, or the only tree
	trees []string // BehaviorTree IDs defined in the file, in order
}

// NewLibrary returns an empty Library.
func NewLibrary(opts Options) *Library {
	return &Library{opts: opts, trees: map[string]*treeDef{}, models: map[string]*model{}, files: map[string]*fileDef{}, compiled: map[string]*Tree{}}
}

// Load parses one tree file and compiles its main tree
// (main_tree_to_execute, or its only tree).
func Load(file string, data []byte, opts Options) (*Tree, error) {
	lib := NewLibrary(opts)
	if err := lib.Add(file, data); err != nil {
		return nil, err
	}
	main := lib.Main(file)
	if main == "" {
		return nil, ErrorList{{file, 0, "no main tree: set main_tree_to_execute on <root>"}}
	}
	return lib.Tree(main)
}

// LoadReader is Load reading the file from r (at most MaxFileSize bytes).
func LoadReader(file string, r io.Reader, opts Options) (*Tree, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("behavior: load %s: %w", file, err)
	}
	return Load(file, data, opts)
}

// Main returns the main tree of an added file: its main_tree_to_execute, or
// its only BehaviorTree; "" if neither.
func (l *Library) Main(file string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.files[file]; f != nil {
		return f.main
	}
	return ""
}

// TreesIn returns the IDs of the BehaviorTrees an added file defines.
func (l *Library) TreesIn(file string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.files[file]; f != nil {
		return append([]string(nil), f.trees...)
	}
	return nil
}

// TreeIDs returns every BehaviorTree ID in the library, sorted.
func (l *Library) TreeIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.treeIDs()
}

func (l *Library) treeIDs() []string {
	ids := make([]string, 0, len(l.trees))
	for id := range l.trees {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Add parses a tree file (and the files it includes) into the library. The
// error, if any, is an ErrorList naming each problem by file and line.
func (l *Library) Add(file string, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.compiled)
	var errs ErrorList
	l.add(file, data, &errs, 0)
	return errs.sorted().errOrNil()
}

func (l *Library) add(file string, data []byte, errs *ErrorList, depth int) {
	if _, ok := l.files[file]; ok {
		return
	}
	fd := &fileDef{}
	l.files[file] = fd
	root, err := parseXML(file, data)
	if err != nil {
		*errs = append(*errs, err.(*Error))
		return
	}
	bad := func(el *element, format string, args ...any) {
		*errs = append(*errs, &Error{el.file, el.line, fmt.Sprintf(format, args...)})
	}
	if root.tag != "root" {
		bad(root, "root element is <%s>; expected <root BTCPP_format=\"4\">", root.tag)
		return
	}
	for _, a := range root.attrs {
		switch a.Name.Local {
		case "BTCPP_format":
			if a.Value != "4" {
				bad(root, "BTCPP_format is %q; Anima reads format \"4\" (BehaviorTree.CPP v4, Groot2)", a.Value)
			}
		case "main_tree_to_execute":
			fd.main = a.Value
		default:
			bad(root, "<root> has no attribute %q", a.Name.Local)
		}
	}
	if _, ok := root.attr("BTCPP_format"); !ok {
		bad(root, "<root> lacks BTCPP_format=\"4\"")
	}
	for _, el := range root.children {
		switch el.tag {
		case "BehaviorTree":
			id, ok := el.attr("ID")
			if !ok || id == "" {
				// BehaviorTree.CPP allows one unnamed tree per file; name it
				// by its place, which is unique and says where it is.
				id = fmt.Sprintf("%s:%d", el.file, el.line)
			}
			for _, a := range el.attrs {
				if n := a.Name.Local; n != "ID" && !strings.HasPrefix(n, "_") {
					bad(el, "<BehaviorTree> has no attribute %q", n)
				}
			}
			if prev := l.trees[id]; prev != nil {
				bad(el, "BehaviorTree %q is already defined at %s:%d", id, prev.el.file, prev.el.line)
				continue
			}
			if len(el.children) != 1 {
				bad(el, "BehaviorTree %q must have exactly one child node, has %d", id, len(el.children))
				continue
			}
			l.trees[id] = &treeDef{id: id, el: el, root: el.children[0]}
			fd.trees = append(fd.trees, id)
		case "TreeNodesModel":
			l.addModels(el, bad)
		case "include":
			path, _ := el.attr("path")
			if path == "" {
				bad(el, "<include> needs a path")
				continue
			}
			if l.opts.Include == nil {
				bad(el, "cannot include %q: this loader reads no files", path)
				continue
			}
			if depth >= maxIncludes || len(l.files) >= maxIncludes {
				bad(el, "too many includes (more than %d)", maxIncludes)
				continue
			}
			name, inc, err := l.opts.Include(file, path)
			if err != nil {
				bad(el, "include %q: %v", path, err)
				continue
			}
			l.add(name, inc, errs, depth+1)
		default:
			bad(el, "unexpected <%s> in <root>; expected <BehaviorTree>, <TreeNodesModel> or <include>", el.tag)
		}
	}
	if fd.main == "" && len(fd.trees) == 1 {
		fd.main = fd.trees[0]
	}
	if fd.main != "" && !slices.Contains(fd.trees, fd.main) && l.trees[fd.main] == nil {
		bad(root, "main_tree_to_execute %q names no BehaviorTree", fd.main)
	}
}

// addModels reads a TreeNodesModel: declarations of node types and their
// ports, as Groot2 writes them.
func (l *Library) addModels(el *element, bad func(*element, string, ...any)) {
	for _, m := range el.children {
		var c class
		switch m.tag {
		case "Action":
			c = classAction
		case "Condition":
			c = classCondition
		case "Control":
			c = classControl
		case "Decorator":
			c = classDecorator
		case "SubTree":
			c = classSubTree
		default:
			bad(m, "unexpected <%s> in <TreeNodesModel>", m.tag)
			continue
		}
		id, _ := m.attr("ID")
		if id == "" {
			bad(m, "<%s> in <TreeNodesModel> needs an ID", m.tag)
			continue
		}
		if b := builtins[id]; b != nil {
			continue // Groot2 may list built-in nodes; Anima's own declaration wins.
		}
		if prev := l.models[id]; prev != nil {
			bad(m, "node %q is already declared at %s:%d", id, prev.el.file, prev.el.line)
			continue
		}
		switch c {
		case classCondition:
			bad(m, "condition %q is declared but Anima has no such condition; use <ScriptCondition code=\"...\"/> or CheckGoal", id)
			continue
		case classControl, classDecorator:
			bad(m, "%s %q is declared but Anima has no such node", strings.ToLower(classNames[c]), id)
			continue
		case classAction:
			if l.opts.KnownActions != nil && !l.opts.KnownActions[id] {
				bad(m, "action %q is not an act the game knows", id)
			}
		}
		md := &model{id: id, class: c, el: m}
		for _, p := range m.children {
			var d dir
			switch p.tag {
			case "input_port":
				d = dirIn
			case "output_port":
				d = dirOut
			case "inout_port":
				d = dirInOut
			case "description", "metadata", "MetadataFields":
				continue
			default:
				bad(p, "unexpected <%s> in the declaration of %q; expected input_port, output_port or inout_port", p.tag, id)
				continue
			}
			name, _ := p.attr("name")
			if !validKey(name) {
				bad(p, "port name %q is not a valid name", name)
				continue
			}
			typ, _ := p.attr("type")
			ps := portSpec{name: name, kind: kindOfType(typ), dir: d}
			if dv, ok := p.attr("default"); ok {
				ps.def = dv
			}
			md.ports = append(md.ports, ps)
		}
		l.models[id] = md
	}
}

// kindOfType maps the C++ type names Groot2 writes for ports to kinds.
func kindOfType(t string) Kind {
	t = strings.ToLower(t)
	switch {
	case t == "":
		return KindNone
	case strings.Contains(t, "bool"):
		return KindBool
	case strings.Contains(t, "int") || strings.Contains(t, "long") || strings.Contains(t, "short"):
		return KindInt
	case strings.Contains(t, "double") || strings.Contains(t, "float"):
		return KindFloat
	case strings.Contains(t, "string"):
		return KindString
	}
	return KindNone
}

// validKey reports whether s is a blackboard key or port name: a letter or _
// and then letters, digits and _.
func validKey(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// IncludeFS returns an Options.Include that reads included files from fsys
// (for example the binary's embedded assets), relative to the including
// file's folder, and names them by their path in fsys.
func IncludeFS(fsys fs.FS) func(from, path string) (string, []byte, error) {
	return func(from, path string) (string, []byte, error) {
		name := pathpkg.Join(pathpkg.Dir(from), path)
		data, err := fs.ReadFile(fsys, name)
		return name, data, err
	}
}

// AddFS adds every file of fsys matching pattern (fs.Glob syntax, e.g.
// "*.xml"), with their includes read from fsys too (set Options.Include to
// IncludeFS(fsys)). It reports the files' problems together.
func (l *Library) AddFS(fsys fs.FS, pattern string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.compiled)
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return fmt.Errorf("behavior: add %q: %w", pattern, err)
	}
	var errs ErrorList
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, &Error{File: name, Msg: err.Error()})
			continue
		}
		l.add(name, data, &errs, 0)
	}
	return errs.sorted().errOrNil()
}
