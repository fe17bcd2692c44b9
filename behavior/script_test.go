package behavior

import (
	"errors"
	"strings"
	"testing"
)

// evalScript parses src with its keys bound to fresh slots, sets the given
// entries, and evaluates it; it returns the result, the blackboard after,
// and the failure reason if evaluation failed.
func evalScript(t testing.TB, src string, vars map[string]Value) (Value, map[string]Value, string, error) {
	return evalScriptWith(t, src, vars, parseScript)
}

// parseUnfused parses without fusing comparisons: the general evaluation.
func parseUnfused(src string, bind binder) (*expr, error) {
	toks, err := lexScript(src)
	if err != nil {
		return nil, err
	}
	return (&scriptParser{src: src, toks: toks, bind: bind}).sequence()
}

func evalScriptWith(t testing.TB, src string, vars map[string]Value, parse func(string, binder) (*expr, error)) (Value, map[string]Value, string, error) {
	slots := map[string]int32{}
	var names []string
	bind := func(name string, write bool) (int32, error) {
		name = strings.TrimPrefix(name, "@")
		if i, ok := slots[name]; ok {
			return i, nil
		}
		slots[name] = int32(len(names))
		names = append(names, name)
		return slots[name], nil
	}
	e, err := parse(src, bind)
	if err != nil {
		return Value{}, nil, "", err
	}
	tree := &Tree{nodes: []node{{tag: "Script"}}}
	for _, n := range names {
		tree.slots = append(tree.slots, slot{name: n})
	}
	in := &Instance{tree: tree, bb: make([]Value, len(names)), status: make([]Status, 1)}
	for k, v := range vars {
		if i, ok := slots[k]; ok {
			in.bb[i] = v
		}
	}
	v, ok := in.eval(0, e)
	after := map[string]Value{}
	for i, n := range names {
		after[n] = in.bb[i]
	}
	if !ok {
		_, reason, _ := in.LastFailure()
		return v, after, reason, nil
	}
	return v, after, "", nil
}

func TestScriptEval(t *testing.T) {
	vars := map[string]Value{
		"goal": String("follow"), "hp": Int(25), "speed": Float(1.5), "tired": Bool(true),
		"count": String("7"), "empty": String(""),
	}
	for _, tt := range []struct {
		src  string
		want Value
	}{
		{"1 + 2 * 3", Int(7)},
		{"(1 + 2) * 3", Int(9)},
		{"7 / 2", Float(3.5)},
		{"8 / 2", Int(4)},
		{"-hp + 5", Int(-20)},
		{"hp * speed", Float(37.5)},
		{"1e3 + 0x10", Float(1016)},
		{".5 + 1", Float(1.5)},
		{"goal == 'follow'", Bool(true)},
		{"goal != 'follow'", Bool(false)},
		{"goal == 'flee' || hp < 30", Bool(true)},
		{"goal == 'flee' && hp < 30", Bool(false)},
		{"!tired", Bool(false)},
		{"hp >= 25 && hp <= 25 && hp > 24 && hp < 26", Bool(true)},
		{"count == 7", Bool(true)},
		{"count + 1", Int(8)},
		{"speed == 1.5", Bool(true)},
		{"hp == 25.0", Bool(true)},
		{"'a' < 'b'", Bool(true)},
		{"empty == ''", Bool(true)},
		{"goal .. '!' .. hp", String("follow!25")},
		{"hp < 30 ? 'hurt' : 'fine'", String("hurt")},
		{"tired ? 1 : 2", Int(1)},
		{"x := 3; x += 2; x * 10", Int(50)},
		{"hp -= 5; hp", Int(20)},
		{"speed *= 2", Float(3)},
		{"@goal := 'flee'; goal", String("flee")},
		{"true && !false", Bool(true)},
		{"1;", Int(1)},
	} {
		got, _, reason, err := evalScript(t, tt.src, vars)
		if err != nil || reason != "" {
			t.Errorf("eval(%q): err %v, failure %q", tt.src, err, reason)
			continue
		}
		if got != tt.want {
			t.Errorf("eval(%q) = %s %s; want %s %s", tt.src, got.Kind(), got.Quoted(), tt.want.Kind(), tt.want.Quoted())
		}
	}
}

func TestScriptEvalFailures(t *testing.T) {
	vars := map[string]Value{"goal": String("follow"), "hp": Int(25), "tired": Bool(true)}
	for _, tt := range []struct{ src, want string }{
		{"missing == 1", `blackboard key "missing" is not set`},
		{"goal == 3", "script: == does not apply to string and int"},
		{"goal < 3", "script: < does not apply to string and int"},
		{"tired == 1", "script: == does not apply to bool and int"},
		{"goal + 1", "script: + does not apply to string and int"},
		{"-goal", "script: - does not apply to string and string"},
		{"hp / 0", "script: division by zero"},
		{"hp / 0.0", "script: division by zero"},
		{"hp && tired", ""}, // numbers are conditions: non-zero is true
		{"goal && tired", "script: a string is not a condition (want bool)"},
		{"n = 1", `blackboard key "n" is not set; create it with :=`},
		{"hp = 'lots'", `cannot store string in blackboard key "hp", which holds int`},
		{"goal = 5", `cannot store int in blackboard key "goal", which holds string`},
	} {
		_, _, reason, err := evalScript(t, tt.src, vars)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.src, err)
			continue
		}
		if reason != tt.want {
			t.Errorf("eval(%q) failure = %q; want %q", tt.src, reason, tt.want)
		}
	}
}

func TestScriptParseErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"", "unexpected end of script at column 1"},
		{"goal ==", "unexpected end of script at column 8"},
		{"'open", "unterminated string at column 1"},
		{"a # b", `unexpected "#" at column 3`},
		{"(1 + 2", `expected ), found "" at column 7`},
		{"1 ? 2", `expected : in cond ? a : b, found "" at column 6`},
		{"3abc", `bad number "3a" at column 1`},
		{"a b", `unexpected "b" at column 3`},
		{"@", "@ must be followed by a key at column 1"},
		{"1 +* 2", `unexpected "*" at column 4`},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), "expression nested too deeply"},
		{strings.Repeat("x", maxScriptLen+1), "script longer than"},
	} {
		_, err := parseScript(tt.src, nil)
		var se *ScriptError
		if !errors.As(err, &se) {
			t.Errorf("parseScript(%q) = %v; want a ScriptError", tt.src, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseScript(%q) = %v; want it to say %q", tt.src, err, tt.want)
		}
	}
}

func TestParseLiteral(t *testing.T) {
	for _, tt := range []struct {
		s    string
		k    Kind
		want Value
		err  string
	}{
		{"42", KindInt, Int(42), ""},
		{" -7 ", KindInt, Int(-7), ""},
		{"0x1f", KindInt, Int(31), ""},
		{"4.5", KindInt, Value{}, `"4.5" is not an integer`},
		{"2.5", KindFloat, Float(2.5), ""},
		{"3", KindFloat, Float(3), ""},
		{"fast", KindFloat, Value{}, `"fast" is not a number`},
		{"true", KindBool, Bool(true), ""},
		{"FALSE", KindBool, Bool(false), ""},
		{"1", KindBool, Bool(true), ""},
		{"yes", KindBool, Value{}, `"yes" is not a bool (true or false)`},
		{"1;2;3", KindString, String("1;2;3"), ""},
		{"anything", KindNone, String("anything"), ""},
	} {
		got, err := parseLiteral(tt.s, tt.k)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("parseLiteral(%q, %v) = %v, %q; want %v, %q", tt.s, tt.k, got.Quoted(), gotErr, tt.want.Quoted(), tt.err)
		}
	}
}

func TestConvert(t *testing.T) {
	for _, tt := range []struct {
		v    Value
		k    Kind
		want Value
		ok   bool
	}{
		{String("12"), KindInt, Int(12), true},
		{String("x"), KindInt, Int(0), false},
		{Float(3), KindInt, Int(3), true},
		{Float(3.5), KindInt, Int(0), false},
		{Float(1 << 63), KindInt, Int(0), false},
		{Float(-(1 << 63)), KindInt, Int(-1 << 63), true},
		{Int(2), KindFloat, Float(2), true},
		{String("2.5"), KindFloat, Float(2.5), true},
		{Int(1), KindBool, Bool(true), true},
		{Int(2), KindBool, Bool(false), false},
		{String("true"), KindBool, Bool(true), true},
		{Int(5), KindString, String("5"), true},
		{Bool(true), KindString, String("true"), true},
		{Value{}, KindString, Value{}, false},
		{Value{}, KindNone, Value{}, false},
	} {
		got, ok := convert(tt.v, tt.k)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("convert(%s %s, %v) = %s, %v; want %s, %v", tt.v.Kind(), tt.v.Quoted(), tt.k, got.Quoted(), ok, tt.want.Quoted(), tt.ok)
		}
	}
}

// FuzzScript: any text either parses or gives a ScriptError with an offset
// inside it; whatever parses evaluates without panicking.
func FuzzScript(f *testing.F) {
	for _, s := range []string{
		"goal == 'follow'", "x := 3; x += 2; x * 10", "hp < 30 ? 'hurt' : 'fine'", "!tired && (a || b)",
		"a .. 'b' .. 1.5e3", "@goal := ''", "-(-(1))", "0x1F / 0", "count = count + 1;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, err := parseScript(src, nil)
		if err != nil {
			var se *ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("parseScript(%q) = %T %v; want a ScriptError", src, err, err)
			}
			if se.Off < 0 || se.Off > len(src) {
				t.Fatalf("parseScript(%q): offset %d outside the script", src, se.Off)
			}
			return
		}
		vars := map[string]Value{"a": Int(1), "b": String("x"), "goal": String("follow"), "hp": Float(2.5), "t": Bool(true)}
		if _, _, _, err := evalScript(t, src, vars); err != nil {
			t.Fatalf("parse with binding failed after parse without: %v", err)
		}
	})
}

// TestFusedCompare: key == 'text' and key != 'text' (evaluated by a fused
// node) agree with the general comparison for every kind of entry.
func TestFusedCompare(t *testing.T) {
	for _, v := range []Value{String("follow"), String("flee"), String("3"), Int(3), Float(3), Bool(true), {}} {
		for _, op := range []string{"==", "!="} {
			fused, _, fr, _ := evalScript(t, "k "+op+" '3'", map[string]Value{"k": v})
			plain, _, pr, _ := evalScriptWith(t, "k "+op+" '3'", map[string]Value{"k": v}, parseUnfused)
			if fused != plain || fr != pr {
				t.Errorf("k %s '3' with k=%s %s: fused %v %q, plain %v %q", op, v.Kind(), v.Quoted(), fused.Quoted(), fr, plain.Quoted(), pr)
			}
		}
	}
}
