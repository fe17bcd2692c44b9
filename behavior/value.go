package behavior

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a blackboard entry or script value.
type Kind uint8

const (
	KindNone   Kind = iota // never set
	KindBool               // bool
	KindInt                // int64
	KindFloat              // float64
	KindString             // string
)

var kindNames = [...]string{"none", "bool", "int", "float", "string"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is one typed blackboard entry or script result. It is a small value
// type (32 bytes) so reading and writing entries never allocates.
type Value struct {
	kind Kind
	bits uint64 // bool (0/1), int64 or float64 bits, by kind
	str  string // KindString only
}

// Bool, Int, Float and String make Values of each kind.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, bits: 1}
	}
	return Value{kind: KindBool}
}

func Int(i int64) Value     { return Value{kind: KindInt, bits: uint64(i)} }
func Float(f float64) Value { return Value{kind: KindFloat, bits: math.Float64bits(f)} }
func String(s string) Value { return Value{kind: KindString, str: s} }

// Kind reports the value's type; KindNone for an entry never set.
func (v Value) Kind() Kind { return v.kind }

// IsSet reports whether the value holds anything.
func (v Value) IsSet() bool { return v.kind != KindNone }

// Raw accessors: valid only for the matching kind (zero otherwise).
func (v Value) boolean() bool  { return v.bits != 0 }
func (v Value) integer() int64 { return int64(v.bits) }
func (v Value) float() float64 { return math.Float64frombits(v.bits) }

// Int returns the value as an integer: ints as they are, floats with no
// fractional part, and strings that parse as integers (BehaviorTree.CPP's
// convertFromString).
func (v Value) Int() (int64, bool) {
	switch v.kind {
	case KindInt:
		return v.integer(), true
	case KindFloat:
		f := v.float()
		// 1<<63 is the first float64 above MaxInt64 (which float64 cannot hold).
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return int64(f), true
		}
	case KindString:
		i, err := strconv.ParseInt(strings.TrimSpace(v.str), 0, 64)
		return i, err == nil
	}
	return 0, false
}

// Float returns the value as a float64: ints and floats, and strings that
// parse as numbers.
func (v Value) Float() (float64, bool) {
	switch v.kind {
	case KindInt:
		return float64(v.integer()), true
	case KindFloat:
		return v.float(), true
	case KindString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.str), 64)
		return f, err == nil
	}
	return 0, false
}

// Bool returns the value as a bool: bools, the ints 0 and 1, and the strings
// BehaviorTree.CPP accepts ("true", "false", "1", "0" in any case).
func (v Value) Bool() (bool, bool) {
	switch v.kind {
	case KindBool:
		return v.boolean(), true
	case KindInt:
		switch v.integer() {
		case 0:
			return false, true
		case 1:
			return true, true
		}
	case KindString:
		return parseBool(v.str)
	}
	return false, false
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// Str returns the value as a string. Strings return without copying; other
// kinds are formatted (which allocates), and an unset value reports false.
func (v Value) Str() (string, bool) {
	switch v.kind {
	case KindString:
		return v.str, true
	case KindNone:
		return "", false
	}
	return v.String(), true
}

// String formats the value for people: strings quoted as in scripts
// ('text'), numbers and bools as literals, unset as "<unset>".
func (v Value) String() string {
	switch v.kind {
	case KindBool:
		return strconv.FormatBool(v.boolean())
	case KindInt:
		return strconv.FormatInt(v.integer(), 10)
	case KindFloat:
		return strconv.FormatFloat(v.float(), 'g', -1, 64)
	case KindString:
		return v.str
	}
	return "<unset>"
}

// Quoted is String, with strings in single quotes (as scripts write them).
func (v Value) Quoted() string {
	if v.kind == KindString {
		return "'" + v.str + "'"
	}
	return v.String()
}

// Interface returns the value as a Go value (bool, int64, float64, string or
// nil), for encoders. It allocates for numbers; keep it off hot paths.
func (v Value) Interface() any {
	switch v.kind {
	case KindBool:
		return v.boolean()
	case KindInt:
		return v.integer()
	case KindFloat:
		return v.float()
	case KindString:
		return v.str
	}
	return nil
}

// Equal reports whether two values are equal, comparing numbers by value
// across int and float.
func (v Value) Equal(w Value) bool {
	eq, ok := compareEq(v, w)
	return ok && eq
}

// convert returns v as kind k (KindNone meaning "any"), following
// convertFromString for strings and allowing lossless numeric conversions.
func convert(v Value, k Kind) (Value, bool) {
	if k == KindNone || v.kind == k {
		return v, v.kind != KindNone
	}
	switch k {
	case KindInt:
		i, ok := v.Int()
		return Int(i), ok
	case KindFloat:
		f, ok := v.Float()
		return Float(f), ok
	case KindBool:
		b, ok := v.Bool()
		return Bool(b), ok
	case KindString:
		s, ok := v.Str()
		return String(s), ok
	}
	return Value{}, false
}

// parseLiteral converts a port's literal attribute text to kind k, as
// BehaviorTree.CPP's convertFromString does for the port's type. Untyped
// ports keep the text as a string.
func parseLiteral(s string, k Kind) (Value, error) {
	switch k {
	case KindNone, KindString:
		return String(s), nil
	case KindInt:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%q is not an integer", s)
		}
		return Int(i), nil
	case KindFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return Value{}, fmt.Errorf("%q is not a number", s)
		}
		return Float(f), nil
	case KindBool:
		b, ok := parseBool(s)
		if !ok {
			return Value{}, fmt.Errorf("%q is not a bool (true or false)", s)
		}
		return Bool(b), nil
	}
	return Value{}, fmt.Errorf("unknown port type %v", k)
}
