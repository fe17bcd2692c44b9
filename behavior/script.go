package behavior

import (
	"fmt"
	"strconv"
	"strings"
)

// This file implements the subset of BehaviorTree.CPP v4's scripting language
// that Anima's trees use: in Script and ScriptCondition nodes and in the
// _skipIf/_failureIf/_successIf/_while/_onSuccess/_onFailure/_post/_onHalted
// attributes.
//
//	statements   a := 1; b = a + 2     (; separates statements; the last one's value is the result)
//	assignment   :=  creates or overwrites an entry; = += -= *= /= need an entry already set
//	logic        && || !               (and, or, not)
//	comparison   == != < <= > >=
//	arithmetic   + - * /  and .. to join strings
//	choice       cond ? a : b
//	operands     blackboard keys (goal, @root_key), numbers, 'strings', true, false
//
// Keys are bound to blackboard slots when a tree is compiled, so evaluation
// never looks up a name and never allocates (except .. building a string).

// maxScriptLen bounds a script's source; scripts are one-liners in XML.
const maxScriptLen = 4096

// maxScriptDepth bounds expression nesting, so evaluation's recursion (and a
// hostile file) stays shallow.
const maxScriptDepth = 64

type opcode uint8

const (
	opConst opcode = iota
	opVar
	opNot
	opNeg
	opAnd
	opOr
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opConcat
	opTernary
	opEqVarConst // key == 'literal' (and !=, by c): the conditions trees test most
	opDefine     // :=
	opAssign     // = (and the compound forms, whose value is computed into b)
	opSeq
)

// expr is one node of a compiled script.
type expr struct {
	op      opcode
	a, b, c *expr
	val     Value  // opConst
	slot    int32  // opVar, opDefine, opAssign: the blackboard slot
	name    string // opVar, opDefine, opAssign: the key as written, for messages
}

// ScriptError is a script that does not parse, with the byte offset into the
// script where the problem was found.
type ScriptError struct {
	Src string
	Off int
	Msg string
}

func (e *ScriptError) Error() string {
	return fmt.Sprintf("script %q: %s at column %d", e.Src, e.Msg, e.Off+1)
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNum
	tStr
	tOp
)

type token struct {
	kind tokKind
	text string
	off  int
}

// lexScript splits a script into tokens.
func lexScript(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			j := strings.IndexByte(src[i+1:], '\'')
			if j < 0 {
				return nil, &ScriptError{src, i, "unterminated string"}
			}
			toks = append(toks, token{tStr, src[i+1 : i+1+j], i})
			i += j + 2
		case isIdentStart(c) || c == '@':
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			if c == '@' && j == i+1 {
				return nil, &ScriptError{src, i, "@ must be followed by a key"}
			}
			toks = append(toks, token{tIdent, src[i:j], i})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
			j := lexNumber(src, i)
			if j < len(src) && isIdentChar(src[j]) {
				return nil, &ScriptError{src, i, fmt.Sprintf("bad number %q", src[i:j+1])}
			}
			toks = append(toks, token{tNum, src[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range [...]string{":=", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "..",
				"=", "<", ">", "!", "+", "-", "*", "/", "(", ")", "?", ":", ";"} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, &ScriptError{src, i, fmt.Sprintf("unexpected %q", src[i:i+1])}
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		}
	}
	toks = append(toks, token{tEOF, "", len(src)})
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// lexNumber returns the end of the number starting at src[i]: decimal
// (1, 2.5, .5, 1e3) or hexadecimal (0x1F). A ".." after digits is the join
// operator, not a decimal point.
func lexNumber(src string, i int) int {
	j := i
	if strings.HasPrefix(src[i:], "0x") || strings.HasPrefix(src[i:], "0X") {
		j += 2
		for j < len(src) && isHex(src[j]) {
			j++
		}
		return j
	}
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) || j+1 == len(src) && src[j] == '.' {
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			j = k
		}
	}
	return j
}

// binder resolves a key named in a script to its blackboard slot; write says
// whether the script assigns it.
type binder func(name string, write bool) (int32, error)

// parseScript parses and binds a script. A nil bind binds every key to slot
// -1 (syntax checking only).
func parseScript(src string, bind binder) (*expr, error) {
	if len(src) > maxScriptLen {
		return nil, &ScriptError{src[:32] + "…", 0, fmt.Sprintf("script longer than %d bytes", maxScriptLen)}
	}
	toks, err := lexScript(src)
	if err != nil {
		return nil, err
	}
	p := &scriptParser{src: src, toks: toks, bind: bind}
	e, err := p.sequence()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, fmt.Sprintf("unexpected %q", t.text))
	}
	e.walk(fuseCompare)
	return e, nil
}

// fuseCompare turns key == 'text' and key != 'text' into one node, so the
// goal checks every role tree makes each tick skip two evaluation calls.
func fuseCompare(e *expr) {
	if (e.op == opEq || e.op == opNe) && e.a != nil && e.a.op == opVar && e.b != nil && e.b.op == opConst && e.b.val.kind == KindString {
		neg := e.op == opNe
		*e = expr{op: opEqVarConst, slot: e.a.slot, name: e.a.name, val: e.b.val, a: e.a, b: e.b}
		if neg {
			e.c = e.b // c marks !=
		}
	}
}

type scriptParser struct {
	src   string
	toks  []token
	pos   int
	depth int
	bind  binder
}

func (p *scriptParser) peek() token { return p.toks[p.pos] }
func (p *scriptParser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *scriptParser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}

func (p *scriptParser) errAt(t token, msg string) error {
	if t.kind == tEOF {
		msg = strings.Replace(msg, `unexpected ""`, "unexpected end", 1)
	}
	return &ScriptError{p.src, t.off, msg}
}

func (p *scriptParser) sequence() (*expr, error) {
	e, err := p.statement()
	if err != nil {
		return nil, err
	}
	for p.isOp(";") {
		p.next()
		if p.peek().kind == tEOF {
			break // a trailing ; is fine
		}
		r, err := p.statement()
		if err != nil {
			return nil, err
		}
		e = &expr{op: opSeq, a: e, b: r}
	}
	return e, nil
}

func (p *scriptParser) statement() (*expr, error) {
	if p.peek().kind == tIdent && p.toks[p.pos+1].kind == tOp {
		switch op := p.toks[p.pos+1].text; op {
		case ":=", "=", "+=", "-=", "*=", "/=":
			id := p.next()
			p.next()
			rhs, err := p.ternary()
			if err != nil {
				return nil, err
			}
			slot, err := p.bindKey(id, true)
			if err != nil {
				return nil, err
			}
			if op == ":=" {
				return &expr{op: opDefine, slot: slot, name: id.text, b: rhs}, nil
			}
			if op != "=" {
				cur := &expr{op: opVar, slot: slot, name: id.text}
				rhs = &expr{op: map[string]opcode{"+=": opAdd, "-=": opSub, "*=": opMul, "/=": opDiv}[op], a: cur, b: rhs}
			}
			return &expr{op: opAssign, slot: slot, name: id.text, b: rhs}, nil
		}
	}
	return p.ternary()
}

func (p *scriptParser) bindKey(t token, write bool) (int32, error) {
	if p.bind == nil {
		return -1, nil
	}
	slot, err := p.bind(t.text, write)
	if err != nil {
		return 0, p.errAt(t, err.Error())
	}
	return slot, nil
}

func (p *scriptParser) ternary() (*expr, error) {
	cond, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.isOp("?") {
		return cond, nil
	}
	p.next()
	a, err := p.ternary()
	if err != nil {
		return nil, err
	}
	if !p.isOp(":") {
		return nil, p.errAt(p.peek(), fmt.Sprintf("expected : in cond ? a : b, found %q", p.peek().text))
	}
	p.next()
	b, err := p.ternary()
	if err != nil {
		return nil, err
	}
	return &expr{op: opTernary, a: cond, b: a, c: b}, nil
}

// binaryLevels lists binary operators from the loosest to the tightest.
var binaryLevels = [...]map[string]opcode{
	{"||": opOr},
	{"&&": opAnd},
	{"==": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe},
	{"+": opAdd, "-": opSub, "..": opConcat},
	{"*": opMul, "/": opDiv},
}

func (p *scriptParser) binary(level int) (*expr, error) {
	if level == len(binaryLevels) {
		return p.unary()
	}
	l, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op, ok := binaryLevels[level][t.text]
		if t.kind != tOp || !ok {
			return l, nil
		}
		p.next()
		r, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		l = &expr{op: op, a: l, b: r}
	}
}

func (p *scriptParser) unary() (*expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxScriptDepth {
		return nil, p.errAt(p.peek(), "expression nested too deeply")
	}
	if p.isOp("!") || p.isOp("-") {
		op := opNot
		if p.next().text == "-" {
			op = opNeg
		}
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &expr{op: op, a: a}, nil
	}
	return p.primary()
}

func (p *scriptParser) primary() (*expr, error) {
	t := p.next()
	switch t.kind {
	case tNum:
		if i, err := strconv.ParseInt(t.text, 0, 64); err == nil {
			return &expr{op: opConst, val: Int(i)}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errAt(t, fmt.Sprintf("bad number %q", t.text))
		}
		return &expr{op: opConst, val: Float(f)}, nil
	case tStr:
		return &expr{op: opConst, val: String(t.text)}, nil
	case tIdent:
		switch t.text {
		case "true":
			return &expr{op: opConst, val: Bool(true)}, nil
		case "false":
			return &expr{op: opConst, val: Bool(false)}, nil
		}
		slot, err := p.bindKey(t, false)
		if err != nil {
			return nil, err
		}
		return &expr{op: opVar, slot: slot, name: t.text}, nil
	case tOp:
		if t.text == "(" {
			p.depth++
			defer func() { p.depth-- }()
			if p.depth > maxScriptDepth {
				return nil, p.errAt(t, "expression nested too deeply")
			}
			e, err := p.ternary()
			if err != nil {
				return nil, err
			}
			if !p.isOp(")") {
				return nil, p.errAt(p.peek(), fmt.Sprintf("expected ), found %q", p.peek().text))
			}
			p.next()
			return e, nil
		}
	}
	if t.kind == tEOF {
		return nil, p.errAt(t, "unexpected end of script")
	}
	return nil, p.errAt(t, fmt.Sprintf("unexpected %q", t.text))
}

// walk calls f on every node of e (used to list the keys a script reads).
func (e *expr) walk(f func(*expr)) {
	if e == nil {
		return
	}
	f(e)
	e.a.walk(f)
	e.b.walk(f)
	e.c.walk(f)
}
