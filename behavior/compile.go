package behavior

import (
	"fmt"
	"sort"
	"strings"
)

// Tree is a compiled behaviour tree: immutable, shared by every Instance
// that runs it. Subtrees are expanded in place (each use gets its own nodes
// and blackboard scope, as in BehaviorTree.CPP), and every blackboard key a
// node names is bound to a slot, so ticking never looks up a name.
type Tree struct {
	id       string
	nodes    []node // in depth-first order; 0 is the root
	slots    []slot // the blackboard: one entry per key per scope
	rootKeys map[string]int32
	auxLen   int     // int64 state words per Instance
	acts     []int32 // the game-action nodes, for Resolve
	goal     int32   // the root's goal slot, for CheckGoal
	maxArgs  int     // most arguments of any act
}

// node is one node of a compiled tree.
type node struct {
	kind     kind
	tag      string // the XML tag (or the ID for <Action ID=...> and subtrees)
	name     string // the name attribute, or ""
	file     string
	line     int
	parent   int32
	depth    int32
	children []int32
	aux      int32     // index of this node's first state word in Instance.aux
	ports    []portRef // by the spec's port order (then extra Act arguments)
	act      string    // kAct: the act's name
	script   *expr     // kScript, kScriptCondition
	pre      [4]*expr  // _failureIf, _successIf, _skipIf, _while
	post     [4]*expr  // _onHalted, _onFailure, _onSuccess, _post
	hasCond  bool      // any pre or post condition
}

// Pre- and post-condition indexes, in BehaviorTree.CPP's order of precedence.
const (
	preFailureIf = iota
	preSuccessIf
	preSkipIf
	preWhile
)

const (
	postOnHalted = iota
	postOnFailure
	postOnSuccess
	postAlways
)

var preAttrs = [...]string{"_failureIf", "_successIf", "_skipIf", "_while"}
var postAttrs = [...]string{"_onHalted", "_onFailure", "_onSuccess", "_post"}

// portRef is a port's value: a literal, or a blackboard slot.
type portRef struct {
	name string
	kind Kind  // the port's type; KindNone takes any
	slot int32 // -1 for a literal
	lit  Value
	out  bool // an output port: written by the node, never an act's argument
}

// slot is one blackboard entry of a tree.
type slot struct {
	name  string // the key, prefixed by its subtree scope ("Action_follow/x"), bare at the root
	init  Value  // the value an Instance starts with (literal remaps, decision keys)
	local bool   // created inside a subtree that does not autoremap
	write bool   // something writes it (an output port, a script, a remap)
	read  *element
}

// auxWords is how many int64 words of per-Instance state each kind keeps.
var auxWords = [kindCount]int32{
	kSequence: 2, kSequenceWithMemory: 2, kFallback: 2,
	kParallel: 2, kIfThenElse: 1, kRepeat: 1, kRetry: 1,
	kTimeout: 1, kDelay: 1, kRunOnce: 2, kCooldown: 1,
	kWait: 1, kAct: 2,
}

// ID returns the tree's BehaviorTree ID.
func (t *Tree) ID() string { return t.id }

// Len returns the number of nodes, subtrees expanded.
func (t *Tree) Len() int { return len(t.nodes) }

// NodeInfo describes one node, for traces and the designer overlay.
type NodeInfo struct {
	Type   string // the XML tag, e.g. "Sequence", or "SubTree Action_follow"
	Name   string // the name attribute, "" if none
	Parent int    // -1 for the root
	Depth  int
	File   string
	Line   int
}

// Label is Name if set, else Type.
func (n NodeInfo) Label() string {
	if n.Name != "" && n.Name != n.Type {
		return n.Type + " " + n.Name
	}
	return n.Type
}

// Node describes node i (0 ≤ i < Len()).
func (t *Tree) Node(i int) NodeInfo {
	n := &t.nodes[i]
	return NodeInfo{Type: n.tag, Name: n.name, Parent: int(n.parent), Depth: int(n.depth), File: n.file, Line: n.line}
}

// Children returns the children of node i.
func (t *Tree) Children(i int) []int {
	out := make([]int, len(t.nodes[i].children))
	for j, c := range t.nodes[i].children {
		out[j] = int(c)
	}
	return out
}

// Keys returns the keys of the root blackboard, sorted: those the npc layer
// can Set and Get.
func (t *Tree) Keys() []string {
	keys := make([]string, 0, len(t.rootKeys))
	for k := range t.rootKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// scope is one blackboard: the root tree's or a subtree use's.
type scope struct {
	path   string // "" at the root, else "Pursue/Action_follow"
	keys   map[string]int32
	parent *scope
	auto   bool // _autoremap: unknown keys are the parent's
}

type compiler struct {
	lib   *Library
	t     *Tree
	errs  ErrorList
	stack []string // subtree IDs being expanded, for recursion
	root  *scope
	full  bool // stopped: the node limit was hit
}

// Tree compiles the BehaviorTree with the given ID, expanding its subtrees,
// or returns the Tree compiled before for that ID.
// Errors are an ErrorList naming each problem by file and line.
func (l *Library) Tree(id string) (*Tree, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.compiled[id]; t != nil {
		return t, nil
	}
	def := l.trees[id]
	if def == nil {
		return nil, ErrorList{{"", 0, fmt.Sprintf("no BehaviorTree %q (have: %s)", id, strings.Join(l.treeIDs(), ", "))}}
	}
	c := &compiler{lib: l, t: &Tree{id: id, rootKeys: map[string]int32{}}}
	c.root = &scope{keys: c.t.rootKeys}
	for _, k := range decisionKeys {
		s := c.slot(c.root, k)
		c.t.slots[s].write, c.t.slots[s].init = true, String("")
	}
	c.t.goal = c.root.keys["goal"]
	c.stack = append(c.stack, id)
	c.compile(def.root, c.root, -1, 0)
	c.checkReads()
	if len(c.errs) > 0 {
		return nil, c.errs.sorted()
	}
	l.compiled[id] = c.t
	return c.t, nil
}

func (c *compiler) bad(el *element, format string, args ...any) {
	c.errs = append(c.errs, &Error{el.file, el.line, fmt.Sprintf(format, args...)})
}

// slot returns the slot of key in scope s, creating it (in the parent, for
// an autoremapping subtree) on first use. "@key" names the root's key.
func (c *compiler) slot(s *scope, key string) int32 {
	if strings.HasPrefix(key, "@") {
		return c.slot(c.root, key[1:])
	}
	if i, ok := s.keys[key]; ok {
		return i
	}
	var i int32
	if s.auto && s.parent != nil {
		i = c.slot(s.parent, key)
	} else {
		i = int32(len(c.t.slots))
		name := key
		if s.path != "" {
			name = s.path + "/" + key
		}
		c.t.slots = append(c.t.slots, slot{name: name, local: s.parent != nil})
	}
	s.keys[key] = i
	return i
}

// localSlot returns key's slot in s itself, never the parent's: a literal
// given to a subtree port is that subtree's own entry, even when it
// autoremaps the rest.
func (c *compiler) localSlot(s *scope, key string) int32 {
	if i, ok := s.keys[key]; ok {
		return i
	}
	auto := s.auto
	s.auto = false
	i := c.slot(s, key)
	s.auto = auto
	return i
}

// checkReads reports keys read inside a subtree that nothing writes: with no
// remapping and no autoremap, such a key can never be set, which is almost
// always a typo or a forgotten port.
func (c *compiler) checkReads() {
	for _, s := range c.t.slots {
		if s.local && !s.write && s.read != nil {
			c.bad(s.read, "blackboard key %q is read but nothing in its subtree writes or remaps it (remap it on the <SubTree> or set _autoremap=\"true\")", s.name)
		}
	}
}

func (c *compiler) markRead(i int32, el *element) {
	if c.t.slots[i].read == nil {
		c.t.slots[i].read = el
	}
}

// parseRef recognises a blackboard reference: {key}, {@key} or {=} (the key
// named like the port). ok is false for a literal; err reports a malformed
// reference.
func parseRef(v, port string) (key string, ok bool, err error) {
	t := strings.TrimSpace(v)
	if !strings.HasPrefix(t, "{") {
		return "", false, nil
	}
	if !strings.HasSuffix(t, "}") {
		return "", false, fmt.Errorf("bad blackboard reference %q: missing }", v)
	}
	key = strings.TrimSpace(t[1 : len(t)-1])
	if key == "=" {
		return port, true, nil
	}
	if !validKey(strings.TrimPrefix(key, "@")) {
		return "", false, fmt.Errorf("bad blackboard reference %q: a key is a letter or _ followed by letters, digits and _", v)
	}
	return key, true, nil
}

// resolveSpec finds what node type an element names.
func (c *compiler) resolveSpec(el *element) (typ string, sp *spec, ok bool) {
	typ = el.tag
	switch el.tag {
	case "Action", "Condition", "Control", "Decorator":
		id, _ := el.attr("ID")
		if id == "" {
			c.bad(el, "<%s> needs an ID naming the node type", el.tag)
			return "", nil, false
		}
		typ = id
	}
	if sp := builtins[typ]; sp != nil {
		return typ, sp, true
	}
	if m := c.lib.models[typ]; m != nil && m.class == classAction {
		return typ, &spec{kind: kAct, class: classAction, ports: m.ports, act: typ}, true
	}
	msg := fmt.Sprintf("unknown node <%s>", typ)
	if s := suggest(typ); s != "" {
		msg += fmt.Sprintf("; did you mean <%s>?", s)
	} else {
		msg += "; declare custom game actions in <TreeNodesModel>"
	}
	c.bad(el, "%s", msg)
	return "", nil, false
}

// suggest returns the built-in node name closest to s, if it is close.
func suggest(s string) string {
	names := make([]string, 0, len(builtins)+1)
	for n := range builtins {
		names = append(names, n)
	}
	return closest(s, append(names, "SubTree"))
}

// closest returns the name in names nearest to s by edit distance, if it is
// close enough to be a likely typo; else "".
func closest(s string, names []string) string {
	sort.Strings(names)
	best, bestD := "", min(4, len(s)/3+1)
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// compile adds el (in scope s) and its descendants, returning its index.
func (c *compiler) compile(el *element, s *scope, parent int32, depth int32) int32 {
	if c.full {
		return -1
	}
	if len(c.t.nodes) >= maxNodes {
		c.bad(el, "tree too large: more than %d nodes once subtrees are expanded", maxNodes)
		c.full = true
		return -1
	}
	if el.tag == "SubTree" {
		return c.compileSubTree(el, s, parent, depth)
	}
	typ, sp, ok := c.resolveSpec(el)
	if !ok {
		// Still check the children, so one pass reports every problem.
		for _, ch := range el.children {
			c.compile(ch, s, -1, depth+1)
		}
		return -1
	}
	idx := int32(len(c.t.nodes))
	c.t.nodes = append(c.t.nodes, node{kind: sp.kind, tag: typ, file: el.file, line: el.line, parent: parent, depth: depth, act: sp.act})
	c.t.nodes[idx].aux = int32(c.t.auxLen)
	c.t.auxLen += int(auxWords[sp.kind])
	n := func() *node { return &c.t.nodes[idx] } // nodes may move as children append

	// Children, by class.
	switch sp.class {
	case classControl:
		if len(el.children) < sp.minChildren {
			c.bad(el, "%s needs at least %d children, has %d", typ, sp.minChildren, len(el.children))
		}
		if sp.maxChildren > 0 && len(el.children) > sp.maxChildren {
			c.bad(el, "%s takes at most %d children, has %d", typ, sp.maxChildren, len(el.children))
		}
	case classDecorator:
		if len(el.children) != 1 {
			c.bad(el, "%s is a decorator and takes exactly one child, has %d", typ, len(el.children))
		}
	default:
		if len(el.children) != 0 {
			c.bad(el, "%s is a leaf and takes no children, has %d", typ, len(el.children))
		}
	}

	// Attributes: name, the conditions, then ports.
	given := map[string]string{}
	for _, a := range el.attrs {
		k := a.Name.Local
		switch {
		case k == "name":
			n().name = a.Value
			if typ == "Act" {
				given[k] = a.Value
			}
		case k == "ID" && typ != el.tag:
		case strings.HasPrefix(k, "_"):
			c.special(el, s, n(), k, a.Value)
		default:
			given[k] = a.Value
		}
	}
	ports := make([]portRef, 0, len(sp.ports))
	for _, ps := range sp.ports {
		v, ok := given[ps.name]
		delete(given, ps.name)
		if !ok {
			if ps.def == "" {
				if ps.required {
					c.bad(el, "%s is missing port %q", typ, ps.name)
				}
				ports = append(ports, portRef{name: ps.name, kind: ps.kind, slot: -1, out: ps.dir == dirOut})
				continue
			}
			v = ps.def
		}
		ports = append(ports, c.port(el, s, typ, ps, v))
	}
	switch sp.kind {
	case kAct:
		if typ == "Act" {
			n().act, _ = el.attr("name")
			if n().act == "" {
				c.bad(el, "Act needs name=\"...\": the act the game performs")
			}
			keys := make([]string, 0, len(given))
			for k := range given {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !validKey(k) {
					c.bad(el, "Act argument %q is not a valid name", k)
					continue
				}
				ports = append(ports, c.port(el, s, typ, portSpec{name: k}, given[k]))
			}
			given = nil
			ports = ports[1:] // the act's name is no argument
		}
		if a := n().act; a != "" && c.lib.opts.KnownActions != nil && !c.lib.opts.KnownActions[a] {
			c.bad(el, "unknown action %q: the game does not perform it", a)
		}
		c.t.acts = append(c.t.acts, idx)
		c.t.maxArgs = max(c.t.maxArgs, len(ports))
	case kScript, kScriptCondition:
		if code, ok := el.attr("code"); ok {
			n().script = c.script(el, s, "code", code)
		}
	case kUnsetBlackboard:
		if key, ok := el.attr("key"); ok {
			if !validKey(strings.TrimPrefix(key, "@")) {
				c.bad(el, "UnsetBlackboard key %q is not a valid key", key)
			} else {
				ports[pKey] = portRef{name: "key", slot: c.slot(s, key)}
				c.t.slots[ports[pKey].slot].write = true
			}
		}
	}
	if len(given) > 0 {
		extra := make([]string, 0, len(given))
		for k := range given {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		var have []string
		for _, ps := range sp.ports {
			have = append(have, ps.name)
		}
		list := "it has none"
		if len(have) > 0 {
			list = "its ports: " + strings.Join(have, ", ")
		}
		for _, k := range extra {
			c.bad(el, "%s has no port %q (%s)", typ, k, list)
		}
	}
	n().ports = ports

	kids := make([]int32, 0, len(el.children))
	for _, ch := range el.children {
		if k := c.compile(ch, s, idx, depth+1); k >= 0 {
			kids = append(kids, k)
		}
	}
	n().children = kids
	return idx
}

// portMin is logically constant: the least literal the built-in nodes'
// integer ports take (-1 means forever for the counts).
var portMin = map[string]int64{"msec": 0, "delay_msec": 0, "num_cycles": -1, "num_attempts": -1}

// port binds one port's attribute text.
func (c *compiler) port(el *element, s *scope, typ string, ps portSpec, v string) portRef {
	ref := portRef{name: ps.name, kind: ps.kind, slot: -1, out: ps.dir == dirOut}
	if typ == "SetBlackboard" && ps.name == "output_key" {
		if key, isRef, _ := parseRef(v, ps.name); isRef {
			v = key
		}
		if !validKey(strings.TrimPrefix(v, "@")) {
			c.bad(el, "SetBlackboard output_key %q is not a valid key", v)
			return ref
		}
		ref.slot = c.slot(s, v)
		c.t.slots[ref.slot].write = true
		return ref
	}
	if typ == "UnsetBlackboard" {
		return ref // bound by the caller: key names a key, it reads none
	}
	if typ == "Script" || typ == "ScriptCondition" {
		ref.lit = String(v)
		return ref
	}
	key, isRef, err := parseRef(v, ps.name)
	if err != nil {
		c.bad(el, "port %q of %s: %v", ps.name, typ, err)
		return ref
	}
	if !isRef {
		if ps.dir == dirOut {
			c.bad(el, "output port %q of %s needs a blackboard key like {%s}, not the literal %q", ps.name, typ, ps.name, v)
			return ref
		}
		lit, err := parseLiteral(v, ps.kind)
		if err != nil {
			c.bad(el, "port %q of %s: %v", ps.name, typ, err)
		} else if lo, ok := portMin[ps.name]; ok && builtins[typ] != nil && lit.integer() < lo {
			c.bad(el, "port %q of %s is %d; it must be at least %d", ps.name, typ, lit.integer(), lo)
		}
		ref.lit = lit
		return ref
	}
	ref.slot = c.slot(s, key)
	if ps.dir != dirIn {
		c.t.slots[ref.slot].write = true
	}
	if ps.dir != dirOut {
		c.markRead(ref.slot, el)
	}
	return ref
}

// special handles an attribute starting with _.
func (c *compiler) special(el *element, s *scope, n *node, k, v string) {
	for i, a := range preAttrs {
		if k == a {
			n.pre[i] = c.script(el, s, k, v)
			n.hasCond = true
			return
		}
	}
	for i, a := range postAttrs {
		if k == a {
			n.post[i] = c.script(el, s, k, v)
			n.hasCond = true
			return
		}
	}
	switch k {
	case "_description", "_uid", "_fullpath":
		return
	case "_autoremap":
		if el.tag != "SubTree" {
			c.bad(el, "_autoremap applies only to <SubTree>")
		}
		return
	}
	c.bad(el, "unknown attribute %q; the attributes starting with _ are _skipIf, _failureIf, _successIf, _while, _onSuccess, _onFailure, _onHalted, _post (and _autoremap on SubTree)", k)
}

// script parses and binds a script attribute, reporting errors at el.
func (c *compiler) script(el *element, s *scope, attr, src string) *expr {
	e, err := parseScript(src, func(name string, write bool) (int32, error) {
		if !validKey(strings.TrimPrefix(name, "@")) {
			return 0, fmt.Errorf("bad key %q", name)
		}
		i := c.slot(s, name)
		if write {
			c.t.slots[i].write = true
		} else {
			c.markRead(i, el)
		}
		return i, nil
	})
	if err != nil {
		c.bad(el, "%s: %v", attr, err)
		return nil
	}
	return e
}

// compileSubTree expands a <SubTree ID="..."> in a new scope.
func (c *compiler) compileSubTree(el *element, s *scope, parent int32, depth int32) int32 {
	id, _ := el.attr("ID")
	def := c.lib.trees[id]
	if id == "" {
		c.bad(el, "<SubTree> needs an ID naming a BehaviorTree")
		return -1
	}
	if def == nil {
		if near := closest(id, c.lib.treeIDs()); near != "" {
			c.bad(el, "unknown subtree %q; did you mean %q?", id, near)
		} else {
			c.bad(el, "unknown subtree %q: no <BehaviorTree ID=%q> is loaded (missing <include>?)", id, id)
		}
		return -1
	}
	for _, open := range c.stack {
		if open == id {
			c.bad(el, "recursive subtree: %s -> %s", strings.Join(c.stack, " -> "), id)
			return -1
		}
	}
	path := id
	if s.path != "" {
		path = s.path + "/" + id
	}
	child := &scope{path: path, keys: map[string]int32{}, parent: s}
	idx := int32(len(c.t.nodes))
	c.t.nodes = append(c.t.nodes, node{kind: kSubTree, tag: "SubTree " + id, file: el.file, line: el.line, parent: parent, depth: depth})
	md := c.lib.models[id]
	if md != nil && md.class != classSubTree {
		md = nil
	}
	remapped := map[string]bool{}
	for _, a := range el.attrs {
		k, v := a.Name.Local, a.Value
		switch {
		case k == "ID" || k == "name":
			if k == "name" {
				c.t.nodes[idx].name = v
			}
			continue
		case k == "_autoremap":
			b, ok := parseBool(v)
			if !ok {
				c.bad(el, "_autoremap is %q; expected true or false", v)
			}
			child.auto = b
			continue
		case strings.HasPrefix(k, "_"):
			c.special(el, s, &c.t.nodes[idx], k, v)
			continue
		}
		var ps *portSpec
		if md != nil {
			for i := range md.ports {
				if md.ports[i].name == k {
					ps = &md.ports[i]
				}
			}
			if ps == nil {
				c.bad(el, "subtree %q has no port %q (declared in TreeNodesModel at %s:%d)", id, k, md.el.file, md.el.line)
				continue
			}
		}
		if !validKey(k) {
			c.bad(el, "subtree port %q is not a valid key", k)
			continue
		}
		remapped[k] = true
		key, isRef, err := parseRef(v, k)
		if err != nil {
			c.bad(el, "port %q of subtree %q: %v", k, id, err)
			continue
		}
		if isRef {
			p := c.slot(s, key)
			c.markRead(p, el)
			child.keys[k] = p
			continue
		}
		kd := KindNone
		if ps != nil {
			kd = ps.kind
		}
		lit, err := parseLiteral(v, kd)
		if err != nil {
			c.bad(el, "port %q of subtree %q: %v", k, id, err)
		}
		i := c.localSlot(child, k)
		c.t.slots[i].init, c.t.slots[i].write = lit, true
	}
	if md != nil {
		for _, ps := range md.ports {
			if !remapped[ps.name] && ps.def != "" {
				if lit, err := parseLiteral(ps.def, ps.kind); err == nil {
					i := c.localSlot(child, ps.name)
					c.t.slots[i].init, c.t.slots[i].write = lit, true
				}
			}
		}
	}
	c.stack = append(c.stack, id)
	k := c.compile(def.root, child, idx, depth+1)
	c.stack = c.stack[:len(c.stack)-1]
	if k >= 0 {
		c.t.nodes[idx].children = []int32{k}
	}
	return idx
}

// AppendTraceText appends a tick's trace as text, one visited node per line,
// indented by depth: "Sequence RUNNING", "  MoveTo RUNNING". It is for logs,
// tests and the designer overlay, not the tick path.
func (t *Tree) AppendTraceText(dst []byte, steps []TraceStep) []byte {
	for _, s := range steps {
		if s.Node < 0 || int(s.Node) >= len(t.nodes) {
			continue
		}
		n := t.Node(int(s.Node))
		for range n.Depth {
			dst = append(dst, "  "...)
		}
		dst = append(dst, n.Label()...)
		dst = append(dst, ' ')
		dst = append(dst, s.Status.String()...)
		dst = append(dst, '\n')
	}
	return dst
}
