package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Limits on what Compile accepts: schemas come from callers that may build
// them from game data, and every limit bounds memory or per-step work.
const (
	MaxSchemaBytes = 1 << 20 // the schema's JSON text
	MaxDepth       = 32      // nesting of schemas inside schemas
	MaxEnum        = 4096    // values in one enum
	MaxEnumBytes   = 1 << 16 // the compact JSON of all values of one enum
	MaxNodes       = 1 << 18 // automaton nodes in all
	MaxVariants    = 256     // anyOf/oneOf variants, and threads one state may hold
	MaxItems       = 256     // maxItems, and minItems, of one array
	MaxStringLen   = 1 << 20 // maxLength and minLength
)

// SchemaError is an unsupported or malformed schema: Path names the schema
// location as a JSON pointer ("" for the root, "/properties/say/maxLength").
type SchemaError struct {
	Path string
	Err  error
}

func (e *SchemaError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return "grammar: compile: schema " + p + ": " + e.Err.Error()
}

func (e *SchemaError) Unwrap() error { return e.Err }

// ErrTooLarge is wrapped by errors for schemas over a size limit.
var ErrTooLarge = errors.New("too large")

func schemaErr(path, format string, args ...any) error {
	return &SchemaError{Path: path, Err: fmt.Errorf(format, args...)}
}

// keywords every schema may carry that do not constrain output.
var annotations = map[string]bool{
	"title": true, "description": true, "$schema": true, "$id": true, "$comment": true,
	"default": true, "examples": true, "$defs": true, "definitions": true,
	"readOnly": true, "writeOnly": true, "deprecated": true,
}

// constraints, per type, that Compile implements.
var typeKeywords = map[string]map[string]bool{
	"object":  {"properties": true, "required": true, "additionalProperties": true},
	"array":   {"items": true, "maxItems": true, "minItems": true},
	"string":  {"maxLength": true, "minLength": true},
	"integer": {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true},
	"number":  {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true},
	"boolean": {},
	"null":    {},
}

// compiler builds the node graph backwards: each value is compiled knowing
// the node it continues to.
type compiler struct {
	root  *value
	nodes []node
	strs  []strLeaf
	nums  []numLeaf
	refs  map[string]bool // $refs being expanded, to reject recursion
}

func (c *compiler) add(n node) (int32, error) {
	if len(c.nodes) >= MaxNodes {
		return 0, fmt.Errorf("more than %d automaton nodes: %w", MaxNodes, ErrTooLarge)
	}
	c.nodes = append(c.nodes, n)
	return int32(len(c.nodes) - 1), nil
}

// lit compiles the literal bytes s followed by next.
func (c *compiler) lit(s string, next int32) (int32, error) {
	es := make([]edge, len(s)) // one allocation for the chain
	for i := len(s) - 1; i >= 0; i-- {
		es[i] = edge{s[i], next}
		id, err := c.add(node{kind: kLit, edges: es[i : i+1 : i+1]})
		if err != nil {
			return 0, err
		}
		next = id
	}
	return next, nil
}

// trie compiles a choice among literal byte strings, each followed by next.
func (c *compiler) trie(lits [][]byte, next int32) (int32, error) {
	root, err := c.add(node{kind: kLit})
	if err != nil {
		return 0, err
	}
	for _, s := range lits {
		at := root
		for _, b := range s {
			found := int32(-1)
			for _, e := range c.nodes[at].edges {
				if e.b == b {
					found = e.next
				}
			}
			if found < 0 {
				if found, err = c.add(node{kind: kLit}); err != nil {
					return 0, err
				}
				c.nodes[at].edges = append(c.nodes[at].edges, edge{b, found})
			}
			at = found
		}
		if !slices.Contains(c.nodes[at].eps, next) {
			c.nodes[at].eps = append(c.nodes[at].eps, next)
		}
	}
	return root, nil
}

func (c *compiler) choice(starts []int32) (int32, error) {
	if len(starts) == 1 {
		return starts[0], nil
	}
	return c.add(node{kind: kLit, eps: starts})
}

// compile compiles schema s (at JSON pointer path, JSON path field) so that
// it continues to next, and returns its start node.
func (c *compiler) compile(s *value, path, field string, next int32, depth int) (int32, error) {
	if depth > MaxDepth {
		return 0, schemaErr(path, "nested deeper than %d: %w", MaxDepth, ErrTooLarge)
	}
	if s.kind != 'o' {
		return 0, schemaErr(path, "schema must be an object, got %s", s.typeName())
	}
	if ref := s.get("$ref"); ref != nil {
		if len(s.keys) != 1 {
			for _, k := range s.keys {
				if k != "$ref" && !annotations[k] {
					return 0, schemaErr(path, "keyword %q beside $ref is not supported", k)
				}
			}
		}
		return c.compileRef(ref, path, field, next, depth)
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		v := s.get(key)
		if v == nil {
			continue
		}
		for _, k := range s.keys {
			if k != key && !annotations[k] {
				return 0, schemaErr(path, "keyword %q beside %s is not supported", k, key)
			}
		}
		if v.kind != 'a' || len(v.items) == 0 {
			return 0, schemaErr(path+"/"+key, "must be a non-empty array of schemas")
		}
		if len(v.items) > MaxVariants {
			return 0, schemaErr(path+"/"+key, "%d variants; limit %d: %w", len(v.items), MaxVariants, ErrTooLarge)
		}
		var starts []int32
		for i, it := range v.items {
			st, err := c.compile(it, fmt.Sprintf("%s/%s/%d", path, key, i), field, next, depth+1)
			if err != nil {
				return 0, err
			}
			starts = append(starts, st)
		}
		return c.choice(starts)
	}

	// Which types, and is every keyword known?
	var types []string
	if t := s.get("type"); t != nil {
		switch t.kind {
		case 's':
			types = []string{t.str}
		case 'a':
			for _, it := range t.items {
				if it.kind != 's' {
					return 0, schemaErr(path+"/type", "must be a type name or an array of them")
				}
				if slices.Contains(types, it.str) {
					return 0, schemaErr(path+"/type", "type %q listed twice", it.str)
				}
				types = append(types, it.str)
			}
			if len(types) == 0 {
				return 0, schemaErr(path+"/type", "empty type array")
			}
		default:
			return 0, schemaErr(path+"/type", "must be a type name or an array of them")
		}
		for _, t := range types {
			if typeKeywords[t] == nil {
				return 0, schemaErr(path+"/type", "unsupported type %q", t)
			}
		}
	}
	enum, hasEnum := s.get("enum"), false
	if enum != nil {
		hasEnum = true
	}
	constV := s.get("const")
	for _, k := range s.keys {
		if annotations[k] || k == "type" || k == "enum" || k == "const" {
			continue
		}
		known := false
		for _, t := range types {
			known = known || typeKeywords[t][k]
		}
		if !known {
			for t, kws := range typeKeywords {
				if kws[k] && len(types) == 0 && !hasEnum && constV == nil {
					return 0, schemaErr(path, "keyword %q needs \"type\": %q", k, t)
				}
			}
			return 0, schemaErr(path, "unsupported keyword %q", k)
		}
	}

	if hasEnum || constV != nil {
		var vals []*value
		if constV != nil {
			if hasEnum {
				return 0, schemaErr(path, "both enum and const")
			}
			vals = []*value{constV}
		} else {
			if enum.kind != 'a' || len(enum.items) == 0 {
				return 0, schemaErr(path+"/enum", "must be a non-empty array")
			}
			if len(enum.items) > MaxEnum {
				return 0, schemaErr(path+"/enum", "%d values; limit %d: %w", len(enum.items), MaxEnum, ErrTooLarge)
			}
			vals = enum.items
		}
		return c.enum(vals, types, s, path, next)
	}
	if len(types) == 0 {
		return 0, schemaErr(path, "no type, enum, const, anyOf or $ref: unconstrained values are not supported")
	}
	var starts []int32
	for _, t := range types {
		st, err := c.typed(t, s, path, field, next, depth)
		if err != nil {
			return 0, err
		}
		starts = append(starts, st)
	}
	return c.choice(starts)
}

func (c *compiler) compileRef(ref *value, path, field string, next int32, depth int) (int32, error) {
	if ref.kind != 's' || !strings.HasPrefix(ref.str, "#/") {
		return 0, schemaErr(path+"/$ref", "only local references (\"#/$defs/name\") are supported")
	}
	if c.refs[ref.str] {
		return 0, schemaErr(path+"/$ref", "recursive reference %q", ref.str)
	}
	target := c.root
	for _, part := range strings.Split(ref.str[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		var nextV *value
		switch target.kind {
		case 'o':
			nextV = target.get(part)
		case 'a':
			if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(target.items) {
				nextV = target.items[i]
			}
		}
		if nextV == nil {
			return 0, schemaErr(path+"/$ref", "reference %q does not resolve", ref.str)
		}
		target = nextV
	}
	c.refs[ref.str] = true
	defer delete(c.refs, ref.str)
	return c.compile(target, ref.str[1:], field, next, depth+1)
}

// enum compiles a choice among literal JSON values, each spelled in its
// canonical compact form.
func (c *compiler) enum(vals []*value, types []string, s *value, path string, next int32) (int32, error) {
	var lits [][]byte
	total := 0
	for i, v := range vals {
		if len(types) > 0 && !matchesType(v, types) {
			return 0, schemaErr(fmt.Sprintf("%s/enum/%d", path, i), "value of type %s does not match type %v", v.typeName(), types)
		}
		if v.kind == 's' {
			n := int64(len([]rune(v.str)))
			if m, ok, err := intKeyword(s, "maxLength", path); err != nil {
				return 0, err
			} else if ok && n > m {
				return 0, schemaErr(fmt.Sprintf("%s/enum/%d", path, i), "value %q is longer than maxLength %d", v.str, m)
			}
		}
		b := appendCompact(nil, v)
		total += len(b)
		if total > MaxEnumBytes {
			return 0, schemaErr(path, "enum values exceed %d bytes: %w", MaxEnumBytes, ErrTooLarge)
		}
		if slices.ContainsFunc(lits, func(l []byte) bool { return bytes.Equal(l, b) }) {
			return 0, schemaErr(fmt.Sprintf("%s/enum/%d", path, i), "duplicate value %s", b)
		}
		lits = append(lits, b)
	}
	return c.trie(lits, next)
}

func matchesType(v *value, types []string) bool {
	for _, t := range types {
		switch {
		case t == "integer" && v.kind == 'n':
			if _, err := strconv.ParseInt(canonicalNumber(v.num), 10, 64); err == nil {
				return true
			}
		case t == v.typeName():
			return true
		}
	}
	return false
}

// intKeyword reads a non-negative integer keyword.
func intKeyword(s *value, key, path string) (int64, bool, error) {
	v := s.get(key)
	if v == nil {
		return 0, false, nil
	}
	if v.kind != 'n' {
		return 0, false, schemaErr(path+"/"+key, "must be a non-negative integer, got %s", v.typeName())
	}
	n, err := strconv.ParseInt(canonicalNumber(v.num), 10, 64)
	if err != nil || n < 0 {
		return 0, false, schemaErr(path+"/"+key, "must be a non-negative integer, got %s", v.num)
	}
	return n, true, nil
}

func (c *compiler) typed(t string, s *value, path, field string, next int32, depth int) (int32, error) {
	switch t {
	case "null":
		return c.lit("null", next)
	case "boolean":
		return c.trie([][]byte{[]byte("true"), []byte("false")}, next)
	case "string":
		return c.str(s, path, field, next)
	case "integer", "number":
		return c.num(t, s, path, next)
	case "array":
		return c.array(s, path, field, next, depth)
	}
	return c.object(s, path, field, next, depth)
}

func (c *compiler) str(s *value, path, field string, next int32) (int32, error) {
	leaf := strLeaf{maxLen: -1, path: field}
	if n, ok, err := intKeyword(s, "maxLength", path); err != nil {
		return 0, err
	} else if ok {
		if n > MaxStringLen {
			return 0, schemaErr(path+"/maxLength", "%d; limit %d: %w", n, MaxStringLen, ErrTooLarge)
		}
		leaf.maxLen = n
	}
	if n, ok, err := intKeyword(s, "minLength", path); err != nil {
		return 0, err
	} else if ok {
		if n > MaxStringLen {
			return 0, schemaErr(path+"/minLength", "%d; limit %d: %w", n, MaxStringLen, ErrTooLarge)
		}
		leaf.minLen = n
	}
	if leaf.maxLen >= 0 && leaf.minLen > leaf.maxLen {
		return 0, schemaErr(path, "minLength %d exceeds maxLength %d", leaf.minLen, leaf.maxLen)
	}
	c.strs = append(c.strs, leaf)
	body, err := c.add(node{kind: kStr, leaf: int32(len(c.strs) - 1), next: next})
	if err != nil {
		return 0, err
	}
	return c.lit(`"`, body)
}

// bound reads a numeric keyword as an exact rational.
func bound(s *value, key, path string) (*big.Rat, error) {
	v := s.get(key)
	if v == nil {
		return nil, nil
	}
	if v.kind != 'n' {
		return nil, schemaErr(path+"/"+key, "must be a number, got %s", v.typeName())
	}
	r, ok := new(big.Rat).SetString(string(v.num))
	if !ok {
		return nil, schemaErr(path+"/"+key, "cannot read number %s", v.num)
	}
	return r, nil
}

func (c *compiler) num(t string, s *value, path string, next int32) (int32, error) {
	leaf := numLeaf{intDigits: maxIntDig}
	if t == "number" {
		leaf.frac, leaf.intDigits = numFracDig, numIntDig
	}
	unit := new(big.Rat).SetInt64(pow10[leaf.frac])
	limit := new(big.Int).SetInt64(pow10[leaf.intDigits+leaf.frac] - 1)
	lo, hi := new(big.Int).Neg(limit), new(big.Int).Set(limit)
	for _, k := range []string{"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"} {
		r, err := bound(s, k, path)
		if err != nil {
			return 0, err
		}
		if r == nil {
			continue
		}
		scaled := new(big.Rat).Mul(r, unit)
		floor := new(big.Int).Div(scaled.Num(), scaled.Denom()) // Euclidean: floor for positive denominators
		exact := scaled.IsInt()
		switch k {
		case "minimum": // ceil
			if !exact {
				floor.Add(floor, big.NewInt(1))
			}
			if floor.Cmp(lo) > 0 {
				lo = floor
			}
		case "exclusiveMinimum": // floor + 1
			floor.Add(floor, big.NewInt(1))
			if floor.Cmp(lo) > 0 {
				lo = floor
			}
		case "maximum": // floor
			if floor.Cmp(hi) < 0 {
				hi = floor
			}
		case "exclusiveMaximum": // ceil - 1
			if exact {
				floor.Sub(floor, big.NewInt(1))
			}
			if floor.Cmp(hi) < 0 {
				hi = floor
			}
		}
	}
	if lo.Cmp(hi) > 0 {
		return 0, schemaErr(path, "no %s lies in the range (at most %d integer and %d fraction digits)", t, leaf.intDigits, leaf.frac)
	}
	leaf.lo, leaf.hi = lo.Int64(), hi.Int64()
	c.nums = append(c.nums, leaf)
	return c.add(node{kind: kNum, leaf: int32(len(c.nums) - 1), next: next})
}

func (c *compiler) array(s *value, path, field string, next int32, depth int) (int32, error) {
	items := s.get("items")
	if items == nil {
		return 0, schemaErr(path, "array without \"items\" is not supported")
	}
	minN, _, err := intKeyword(s, "minItems", path)
	if err != nil {
		return 0, err
	}
	maxN, hasMax, err := intKeyword(s, "maxItems", path)
	if err != nil {
		return 0, err
	}
	if minN > MaxItems || maxN > MaxItems {
		return 0, schemaErr(path, "minItems and maxItems are limited to %d: %w", MaxItems, ErrTooLarge)
	}
	if hasMax && minN > maxN {
		return 0, schemaErr(path, "minItems %d exceeds maxItems %d", minN, maxN)
	}
	ipath, ifield := path+"/items", field+"[]"
	item := func(next int32) (int32, error) { return c.compile(items, ipath, ifield, next, depth+1) }
	closeN, err := c.lit("]", next)
	if err != nil {
		return 0, err
	}
	// after[k] is the node after the k-th item (k >= 1): ',' item or ']'.
	var afterLast int32
	if !hasMax {
		// A loop: after at least minItems items, ']' or ',' item again.
		loop, err := c.add(node{kind: kLit})
		if err != nil {
			return 0, err
		}
		it, err := item(loop)
		if err != nil {
			return 0, err
		}
		c.nodes[loop].edges = []edge{{']', next}, {',', it}}
		afterLast = loop
		maxN = max(minN, 1)
	} else {
		afterLast = closeN
	}
	// Unroll items maxN down to 1; cur is what follows the k-th item.
	cur := afterLast
	var first int32
	for k := maxN; k >= 1; k-- {
		it, err := item(cur)
		if err != nil {
			return 0, err
		}
		first = it
		if k == 1 {
			break
		}
		// Before item k: a comma.
		comma, err := c.lit(",", it)
		if err != nil {
			return 0, err
		}
		// After item k-1: the comma, or ']' when k-1 items suffice.
		if k-1 >= minN {
			cur, err = c.add(node{kind: kLit, edges: []edge{{',', it}, {']', next}}})
		} else {
			cur = comma
		}
		if err != nil {
			return 0, err
		}
	}
	open, err := c.add(node{kind: kLit})
	if err != nil {
		return 0, err
	}
	if maxN > 0 {
		c.nodes[open].eps = append(c.nodes[open].eps, first)
	}
	if minN == 0 {
		c.nodes[open].edges = append(c.nodes[open].edges, edge{']', next})
	}
	return c.lit("[", open)
}

func (c *compiler) object(s *value, path, field string, next int32, depth int) (int32, error) {
	if ap := s.get("additionalProperties"); ap != nil && ap.kind != 'b' {
		return 0, schemaErr(path+"/additionalProperties", "only true or false is supported (no keys beyond properties are ever emitted)")
	}
	props := s.get("properties")
	if props != nil && props.kind != 'o' {
		return 0, schemaErr(path+"/properties", "must be an object")
	}
	if props == nil {
		props = &value{kind: 'o'}
	}
	required := map[string]bool{}
	if r := s.get("required"); r != nil {
		if r.kind != 'a' {
			return 0, schemaErr(path+"/required", "must be an array of property names")
		}
		for i, it := range r.items {
			if it.kind != 's' {
				return 0, schemaErr(fmt.Sprintf("%s/required/%d", path, i), "must be a string")
			}
			if props.get(it.str) == nil {
				return 0, schemaErr(fmt.Sprintf("%s/required/%d", path, i), "%q is not in properties", it.str)
			}
			required[it.str] = true
		}
	}
	n := len(props.keys)
	// Built backwards: withComma[i] and bare[i] start at property i, having
	// emitted some key before or none.
	closeN, err := c.lit("}", next)
	if err != nil {
		return 0, err
	}
	withComma, bare := closeN, closeN
	for i := n - 1; i >= 0; i-- {
		key := props.keys[i]
		sub := field + "." + key
		if field == "" {
			sub = key
		}
		val, err := c.compile(props.vals[i], path+"/properties/"+escapePointer(key), sub, withComma, depth+1)
		if err != nil {
			return 0, err
		}
		k := appendString(nil, key)
		wc, err := c.lit(","+string(k)+":", val)
		if err != nil {
			return 0, err
		}
		b, err := c.lit(string(k)+":", val)
		if err != nil {
			return 0, err
		}
		if !required[key] { // optional: emit it or skip to the next
			if wc, err = c.choice([]int32{wc, withComma}); err != nil {
				return 0, err
			}
			if b, err = c.choice([]int32{b, bare}); err != nil {
				return 0, err
			}
		}
		withComma, bare = wc, b
	}
	return c.lit("{", bare)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// parseSchema reads schema JSON with its size checked first.
func parseSchema(schema []byte) (*value, error) {
	if len(schema) > MaxSchemaBytes {
		return nil, fmt.Errorf("grammar: compile: schema is %d bytes; limit %d: %w", len(schema), MaxSchemaBytes, ErrTooLarge)
	}
	if !json.Valid(schema) {
		_, err := parseValue(schema)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("grammar: compile: schema: %w", err)
	}
	v, err := parseValue(schema)
	if err != nil {
		return nil, fmt.Errorf("grammar: compile: schema: %w", err)
	}
	return v, nil
}
