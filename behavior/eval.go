package behavior

import "strings"

// eval runs a compiled script for node i against the blackboard. A failure
// (an unset key, operands of the wrong kind) is recorded for LastFailure and
// reported as ok=false; evaluation never panics and, except for .., never
// allocates.
func (in *Instance) eval(i int32, e *expr) (Value, bool) {
	switch e.op {
	case opConst:
		return e.val, true
	case opVar:
		v := in.bb[e.slot]
		if v.kind == KindNone {
			in.failAt(i, failure{code: fUnset, slot: e.slot})
			return v, false
		}
		return v, true
	case opNot:
		b, ok := in.cond(i, e.a)
		return Bool(!b), ok
	case opNeg:
		v, ok := in.eval(i, e.a)
		if !ok {
			return v, false
		}
		switch v.kind {
		case KindInt:
			return Int(-v.integer()), true
		case KindFloat:
			return Float(-v.float()), true
		}
		in.failAt(i, failure{code: fOperands, op: opNeg, a: v.kind, b: v.kind, slot: -1})
		return Value{}, false
	case opAnd, opOr:
		l, ok := in.cond(i, e.a)
		if !ok {
			return Value{}, false
		}
		if l == (e.op == opOr) {
			return Bool(l), true // short circuit
		}
		r, ok := in.cond(i, e.b)
		return Bool(r), ok
	case opEqVarConst:
		v := in.bb[e.slot]
		if v.kind == KindString {
			return Bool((v.str == e.val.str) == (e.c == nil)), true
		}
		// Not a string: compare as the unfused == / != would.
		l, ok := in.eval(i, e.a)
		if !ok {
			return l, false
		}
		eq, ok := compareEq(l, e.val)
		if !ok {
			op := opEq
			if e.c != nil {
				op = opNe
			}
			in.failAt(i, failure{code: fOperands, op: op, a: l.kind, b: e.val.kind, slot: -1})
			return Value{}, false
		}
		return Bool(eq == (e.c == nil)), true
	case opEq, opNe, opLt, opLe, opGt, opGe:
		l, ok := in.eval(i, e.a)
		if !ok {
			return l, false
		}
		r, ok := in.eval(i, e.b)
		if !ok {
			return r, false
		}
		if e.op == opEq || e.op == opNe {
			eq, ok := compareEq(l, r)
			if !ok {
				in.failAt(i, failure{code: fOperands, op: e.op, a: l.kind, b: r.kind, slot: -1})
				return Value{}, false
			}
			return Bool(eq == (e.op == opEq)), true
		}
		c, ok := compareOrd(l, r)
		if !ok {
			in.failAt(i, failure{code: fOperands, op: e.op, a: l.kind, b: r.kind, slot: -1})
			return Value{}, false
		}
		switch e.op {
		case opLt:
			return Bool(c < 0), true
		case opLe:
			return Bool(c <= 0), true
		case opGt:
			return Bool(c > 0), true
		}
		return Bool(c >= 0), true
	case opAdd, opSub, opMul, opDiv:
		l, ok := in.eval(i, e.a)
		if !ok {
			return l, false
		}
		r, ok := in.eval(i, e.b)
		if !ok {
			return r, false
		}
		return in.arith(i, e.op, l, r)
	case opConcat:
		l, ok := in.eval(i, e.a)
		if !ok {
			return l, false
		}
		r, ok := in.eval(i, e.b)
		if !ok {
			return r, false
		}
		ls, _ := l.Str()
		rs, _ := r.Str()
		return String(ls + rs), true
	case opTernary:
		c, ok := in.cond(i, e.a)
		if !ok {
			return Value{}, false
		}
		if c {
			return in.eval(i, e.b)
		}
		return in.eval(i, e.c)
	case opDefine, opAssign:
		if e.op == opAssign && in.bb[e.slot].kind == KindNone {
			in.failAt(i, failure{code: fAssignUnset, slot: e.slot})
			return Value{}, false
		}
		v, ok := in.eval(i, e.b)
		if !ok {
			return v, false
		}
		if !in.write(i, e.slot, v) {
			return Value{}, false
		}
		return v, true
	case opSeq:
		if v, ok := in.eval(i, e.a); !ok {
			return v, false
		}
		return in.eval(i, e.b)
	}
	return Value{}, false
}

// cond evaluates a script as a condition: bools, and numbers (non-zero is
// true), as BehaviorTree.CPP casts them.
func (in *Instance) cond(i int32, e *expr) (bool, bool) {
	v, ok := in.eval(i, e)
	if !ok {
		return false, false
	}
	switch v.kind {
	case KindBool:
		return v.boolean(), true
	case KindInt:
		return v.integer() != 0, true
	case KindFloat:
		return v.float() != 0, true
	case KindString:
		if b, ok := parseBool(v.str); ok {
			return b, true
		}
	}
	in.failAt(i, failure{code: fCondition, a: v.kind, slot: -1})
	return false, false
}

// write stores v in a typed entry: an entry keeps the kind of its first
// value, and later values are converted to it or refused.
func (in *Instance) write(i int32, slot int32, v Value) bool {
	cur := in.bb[slot]
	if cur.kind != KindNone && cur.kind != v.kind {
		cv, ok := convert(v, cur.kind)
		if !ok || cur.kind == KindString && v.kind != KindString {
			in.failAt(i, failure{code: fWrite, slot: slot, a: cur.kind, b: v.kind})
			return false
		}
		v = cv
	}
	in.bb[slot] = v
	return true
}

func (in *Instance) arith(i int32, op opcode, l, r Value) (Value, bool) {
	l, r, ok := numbers(l, r)
	if !ok {
		in.failAt(i, failure{code: fOperands, op: op, a: l.kind, b: r.kind, slot: -1})
		return Value{}, false
	}
	if l.kind == KindInt && r.kind == KindInt {
		a, b := l.integer(), r.integer()
		switch op {
		case opAdd:
			return Int(a + b), true
		case opSub:
			return Int(a - b), true
		case opMul:
			return Int(a * b), true
		}
		if b == 0 {
			in.failAt(i, failure{code: fDivZero, slot: -1})
			return Value{}, false
		}
		if a%b == 0 {
			return Int(a / b), true
		}
		return Float(float64(a) / float64(b)), true
	}
	a, _ := l.Float()
	b, _ := r.Float()
	switch op {
	case opAdd:
		return Float(a + b), true
	case opSub:
		return Float(a - b), true
	case opMul:
		return Float(a * b), true
	}
	if b == 0 {
		in.failAt(i, failure{code: fDivZero, slot: -1})
		return Value{}, false
	}
	return Float(a / b), true
}

// numbers returns l and r as numbers (strings that parse as numbers count),
// or ok=false.
func numbers(l, r Value) (Value, Value, bool) {
	l2, ok1 := asNumber(l)
	r2, ok2 := asNumber(r)
	if !ok1 || !ok2 {
		return l, r, false
	}
	return l2, r2, true
}

func asNumber(v Value) (Value, bool) {
	switch v.kind {
	case KindInt, KindFloat:
		return v, true
	case KindString:
		if i, ok := v.Int(); ok {
			return Int(i), true
		}
		if f, ok := v.Float(); ok {
			return Float(f), true
		}
	}
	return v, false
}

// compareEq compares two values for == and !=: numbers by value, strings
// and bools as themselves, and a string with a number if the string is a
// number. ok is false for values that cannot be compared.
func compareEq(a, b Value) (eq, ok bool) {
	switch {
	case a.kind == KindNone || b.kind == KindNone:
		return false, false
	case a.kind == KindString && b.kind == KindString:
		return a.str == b.str, true
	case a.kind == KindBool && b.kind == KindBool:
		return a.bits == b.bits, true
	case a.kind == KindBool || b.kind == KindBool:
		return false, false
	}
	c, ok := compareOrd(a, b)
	return c == 0, ok
}

// compareOrd orders two numbers, or two strings.
func compareOrd(a, b Value) (int, bool) {
	if a.kind == KindString && b.kind == KindString {
		return strings.Compare(a.str, b.str), true
	}
	a, b, ok := numbers(a, b)
	if !ok {
		return 0, false
	}
	if a.kind == KindInt && b.kind == KindInt {
		x, y := a.integer(), b.integer()
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	x, _ := a.Float()
	y, _ := b.Float()
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	case x == y:
		return 0, true
	}
	return 0, false // NaN
}
