package protocol

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// plainPerceive has Perceive's fields and tags but not its methods, so the
// msgpack library encodes and decodes it by reflection: the reference the
// hand-written paths must match.
type plainPerceive Perceive

// reflectEncode encodes v with the codec's settings.
func reflectEncode(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reflectDecode decodes a body into a Perceive by reflection.
func reflectDecode(body []byte) (Perceive, error) {
	var p plainPerceive
	dec := msgpack.NewDecoder(bytes.NewReader(body))
	dec.SetCustomStructTag("json")
	dec.UseLooseInterfaceDecoding(true)
	err := dec.Decode(&p)
	return Perceive(p), err
}

func randString(r *rand.Rand) string {
	words := []string{"", "a", "guard", "the forge", "밥", "carrying ore", "p1", string(make([]byte, 40))}
	return words[r.IntN(len(words))]
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return float64(r.IntN(200) - 100)
	default:
		return r.NormFloat64() * 1e3
	}
}

func randVec(r *rand.Rand) Vec { return Vec{randFloat(r), randFloat(r), randFloat(r)} }

func randPerceive(r *rand.Rand) Perceive {
	p := Perceive{Time: randString(r), Self: Self{Position: randVec(r), Location: randString(r), Health: randFloat(r), Status: randString(r)}}
	for range r.IntN(3) {
		p.Self.Inventory = append(p.Self.Inventory, randString(r))
	}
	for range r.IntN(5) {
		p.Entities = append(p.Entities, Entity{ID: randString(r), Kind: randString(r), Name: randString(r), Position: randVec(r), Relation: randString(r)})
	}
	for range r.IntN(3) {
		p.Events = append(p.Events, Event{Kind: randString(r), Source: randString(r), Target: randString(r), Text: randString(r), Item: randString(r)})
	}
	return p
}

// TestPerceiveMsgpackMatchesReflection: the hand-written encoder writes
// byte for byte what reflection writes, and the fast decoder reads it back
// as reflection does.
func TestPerceiveMsgpackMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		p := randPerceive(r)
		fast := reflectEncode(t, &p)
		plain := plainPerceive(p)
		want := reflectEncode(t, &plain)
		if !bytes.Equal(fast, want) {
			t.Fatalf("case %d: EncodeMsgpack wrote\n%x\nreflection writes\n%x", i, fast, want)
		}
		var got Perceive
		if !decodeBodyMsgpack(fast, &got) {
			t.Fatalf("case %d: the fast decoder refused a frame the encoder wrote: %x", i, fast)
		}
		ref, err := reflectDecode(fast)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("case %d: fast decode\n%+v\nreflection\n%+v", i, got, ref)
		}
	}
}

// randValue is any msgpack value, shaped to hit the decoder's edges: nil,
// every width of integer, float32, bin, nested maps and arrays.
func randValue(r *rand.Rand, depth int) any {
	switch k := r.IntN(12); {
	case k == 0:
		return nil
	case k == 1:
		return r.IntN(300) - 150
	case k == 2:
		return int64(r.Uint64())
	case k == 3:
		return r.Uint64()
	case k == 4:
		return float32(r.NormFloat64())
	case k == 5:
		return r.NormFloat64()
	case k == 6:
		return []byte(randString(r))
	case k == 7:
		return true
	case k <= 9 && depth > 0:
		return randMap(r, depth-1)
	case depth > 0:
		a := make([]any, r.IntN(3))
		for i := range a {
			a[i] = randValue(r, depth-1)
		}
		return a
	}
	return randString(r)
}

// oddKeys are the field names of every message with a hand-written
// decoder, and one that none has.
var oddKeys = []string{"time", "self", "entities", "events", "position", "location", "health", "status",
	"inventory", "x", "y", "z", "id", "kind", "name", "relation", "source", "target", "text", "item",
	"utterance_id", "delta", "final", "action_id", "reason", "args", "emotion", "action", "say", "raw",
	"stats", "prompt_tokens", "reused_tokens", "generated_tokens", "ttft_ms", "total_ms", "fallback", "other"}

// randMap is a map whose keys are mostly those of real fields, so that
// values of every type land in them.
func randMap(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range r.IntN(6) {
		m[oddKeys[r.IntN(len(oddKeys))]] = randValue(r, depth)
	}
	return m
}

// checkFastDecode asserts the fast decoder's contract on one body: where
// it accepts, reflection accepts too and reads the same Perceive.
func checkFastDecode(t *testing.T, body []byte) bool {
	if checkMsgpack(body) != nil {
		return false
	}
	var got Perceive
	if !decodeBodyMsgpack(body, &got) {
		return false
	}
	ref, err := reflectDecode(body)
	if err != nil {
		t.Fatalf("fast decode accepted %x, which reflection refuses: %v", body, err)
	}
	// NaN is not DeepEqual to itself; the re-encoded bytes are.
	g, w := plainPerceive(got), plainPerceive(ref)
	if !reflect.DeepEqual(got, ref) && !bytes.Equal(reflectEncode(t, &g), reflectEncode(t, &w)) {
		t.Fatalf("body %x: fast decode\n%+v\nreflection\n%+v", body, got, ref)
	}
	return true
}

// TestPerceiveFastDecodeAgreesOnOddFrames throws random values of every
// type at Perceive's keys: whatever the fast decoder takes, it reads as
// reflection does; the rest goes to reflection.
func TestPerceiveFastDecodeAgreesOnOddFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	accepted := 0
	for range 20000 {
		body := reflectEncode(t, randMap(r, 3))
		if checkFastDecode(t, body) {
			accepted++
		}
	}
	if accepted < 1000 {
		t.Errorf("the fast decoder took only %d of 20,000 random bodies; the test is not exercising it", accepted)
	}
}

// TestFastEnvelopeMatchesSlow: the envelope fast path reads the fields the
// library reads, and declines frames whose fields are not plain.
func TestFastEnvelopeMatchesSlow(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		m := map[string]any{}
		for range r.IntN(6) {
			key := []string{"type", "id", "npc", "seq", "body", "extra"}[r.IntN(6)]
			m[key] = randValue(r, 2)
		}
		frame := reflectEncode(t, m)
		if checkMsgpack(frame) != nil {
			continue
		}
		var fast, slow Envelope
		body, ok := fastEnvelope(frame, &fast)
		if !ok {
			continue
		}
		dec := msgpack.NewDecoder(nil)
		sbody, err := slowEnvelope(dec, frame, &slow)
		if err != nil {
			t.Fatalf("frame %x: fast path took it, slow path says %v", frame, err)
		}
		if !reflect.DeepEqual(fast, slow) || !bytes.Equal(body, sbody) {
			t.Fatalf("frame %x: fast %+v body %x; slow %+v body %x", frame, fast, body, slow, sbody)
		}
	}
}

func FuzzPerceiveMsgpack(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 20 {
		p := randPerceive(r)
		f.Add(reflectEncode(f, &p))
		f.Add(reflectEncode(f, randMap(r, 3)))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastDecode(t, body) })
}

// plainWire is wireOut without its EncodeMsgpack: reflection's reference.
type plainWire wireOut

// TestEnvelopeEncodeMatchesReflection: every sample message, and random
// perceives in envelopes with and without id, npc and seq, encode byte for
// byte as reflection encodes them.
func TestEnvelopeEncodeMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var bodies []Message
	for _, typ := range []string{"hello", "world", "spawn", "despawn", "player_say", "interrupt", "action_status", "ping",
		"welcome", "spawned", "act", "cancel", "say", "decision", "error", "pong", "tree_path"} {
		if m := NewMessage(typ); m != nil {
			bodies = append(bodies, m)
		}
	}
	for range 200 {
		p := randPerceive(r)
		bodies = append(bodies, &p)
	}
	// Typed nil bodies, which reflection writes as nil.
	bodies = append(bodies, (*Perceive)(nil), (*Say)(nil), (*Act)(nil), (*ActionStatus)(nil), (*Decision)(nil))
	bodies = append(bodies, outMessages...)
	for i, b := range bodies {
		w := wireOut{Type: b.MessageType(), Body: b}
		if r.IntN(2) == 0 {
			w.ID = randString(r)
		}
		if r.IntN(2) == 0 {
			w.NPC = randString(r)
		}
		w.Seq = []uint64{0, 1, 200, 70000, 1 << 40}[r.IntN(5)]
		got := reflectEncode(t, w)
		want := reflectEncode(t, plainWire(w))
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (%s): EncodeMsgpack wrote\n%x\nreflection writes\n%x", i, w.Type, got, want)
		}
	}
}

// The reflection twins of the server's hot messages and of action_status.
type (
	plainSay          Say
	plainAct          Act
	plainActionStatus ActionStatus
	plainDecision     Decision
)

// plainOf returns a copy of m as its reflection twin, by pointer.
func plainOf(m Message) any {
	switch m := m.(type) {
	case *Perceive:
		p := plainPerceive(*m)
		return &p
	case *Say:
		p := plainSay(*m)
		return &p
	case *Act:
		p := plainAct(*m)
		return &p
	case *ActionStatus:
		p := plainActionStatus(*m)
		return &p
	case *Decision:
		p := plainDecision(*m)
		return &p
	}
	panic("no reflection twin for " + m.MessageType())
}

// fastTypes are the message types with hand-written msgpack.
var fastTypes = []string{"perceive", "say", "act", "action_status", "decision"}

// reflectDecodeAs decodes body as a typ message the way the codec did
// before it had fast paths: by reflection, with the codec's settings.
func reflectDecodeAs(typ string, body []byte) (Message, error) {
	msg := NewMessage(typ)
	p := plainOf(msg)
	dec := msgpack.NewDecoder(nil)
	resetDecoder(dec, body)
	err := dec.Decode(p)
	reflect.ValueOf(msg).Elem().Set(reflect.ValueOf(p).Elem().Convert(reflect.TypeOf(msg).Elem()))
	return msg, err
}

// sameMessage reports whether a and b hold the same values; NaN is not
// DeepEqual to itself, so values that re-encode to the same bytes count.
func sameMessage(t testing.TB, a, b Message) bool {
	return reflect.DeepEqual(a, b) || bytes.Equal(reflectEncode(t, plainOf(a)), reflectEncode(t, plainOf(b)))
}

// checkFastDecodeAs asserts the fast decoders' contract on one body read
// as a typ message: where the fast path accepts, reflection accepts too and
// reads the same value; where it declines, it leaves the message zero for
// reflection, so the codec decodes (or refuses) exactly as before.
func checkFastDecodeAs(t *testing.T, typ string, body []byte) bool {
	if checkMsgpack(body) != nil {
		return false
	}
	got := NewMessage(typ)
	if !decodeBodyMsgpack(body, got) {
		if !reflect.DeepEqual(got, NewMessage(typ)) {
			t.Fatalf("%s body %x: the fast decoder declined but left %+v", typ, body, got)
		}
		return false
	}
	ref, err := reflectDecodeAs(typ, body)
	if err != nil {
		t.Fatalf("%s body %x: fast decode accepted what reflection refuses: %v", typ, body, err)
	}
	if !sameMessage(t, got, ref) {
		t.Fatalf("%s body %x: fast decode\n%+v\nreflection\n%+v", typ, body, got, ref)
	}
	return true
}

func randArgs(r *rand.Rand) Args {
	if r.IntN(3) == 0 {
		return nil
	}
	a := Args{}
	for range r.IntN(12) { // past 8 keys, optArgs's key array spills
		a[randString(r)+oddKeys[r.IntN(len(oddKeys))]] = randArg(r, 2)
	}
	return a
}

// randArg is an Args value as callers build them: JSON-like values, Go
// numbers of any kind, nested Args.
func randArg(r *rand.Rand, depth int) any {
	switch r.IntN(14) {
	case 0:
		return int8(r.IntN(256) - 128)
	case 1:
		return uint32(r.Uint32())
	case 2:
		return float32(r.NormFloat64())
	case 3:
		return Args{"k": randValue(r, depth)}
	case 4:
		return r.IntN(2) == 0
	case 5:
		return math.Inf(1)
	}
	return randValue(r, depth)
}

func randSay(r *rand.Rand) Say {
	return Say{UtteranceID: randString(r), Delta: randString(r), Final: r.IntN(3) == 0, Text: randString(r)}
}

func randAct(r *rand.Rand) Act {
	return Act{ActionID: randString(r), Name: randString(r), Args: randArgs(r)}
}

func randActionStatus(r *rand.Rand) ActionStatus {
	return ActionStatus{ActionID: randString(r), Status: randString(r), Reason: randString(r)}
}

func randInt(r *rand.Rand) int {
	return []int{0, 1, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -129, -40000, 1 << 33, -1 << 40, math.MaxInt64, math.MinInt64}[r.IntN(17)]
}

func randDecision(r *rand.Rand) Decision {
	d := Decision{Emotion: randString(r), Action: randString(r), Target: randString(r), Args: randArgs(r),
		Say: randString(r), UtteranceID: randString(r), Raw: randString(r)}
	if r.IntN(3) > 0 {
		d.Stats = &DecisionStats{PromptTokens: randInt(r), ReusedTokens: randInt(r), GeneratedTokens: randInt(r),
			TTFTMS: randFloat(r), TotalMS: randFloat(r), Fallback: r.IntN(2) == 0}
	}
	return d
}

// outMessages are the table cases of TestOutMsgpackMatchesReflection: the
// shapes the server sends most, and the edges of each field.
var outMessages = []Message{
	&Say{},
	&Say{UtteranceID: "u5", Delta: "Leave it on "},
	&Say{UtteranceID: "u5", Delta: "the anvil.", Final: true, Text: "Leave it on the anvil."},
	&Say{UtteranceID: "u5", Final: true},
	&Say{UtteranceID: "u5", Delta: string(make([]byte, 300))}, // str16
	&Act{},
	&Act{ActionID: "a17", Name: "go_to", Args: Args{"target": "p1", "speed": 1.5}},
	&Act{ActionID: "a18", Name: "idle", Args: Args{}},
	&Act{ActionID: "a19", Name: "give", Args: Args{"item": "sword", "count": 2, "big": uint64(1 << 63), "neg": -300,
		"f32": float32(0.5), "whole": 3.0, "list": []any{"a", 1, nil, true}, "obj": map[string]any{"b": 1, "a": Args{"z": nil}}}},
	&ActionStatus{},
	&ActionStatus{ActionID: "a17", Status: StatusRunning},
	&ActionStatus{ActionID: "a17", Status: StatusFailure, Reason: "path blocked"},
	&Decision{},
	&Decision{Emotion: "calm", Action: "go_to", Target: "p1", Args: Args{"speed": 1.5}, Say: "Coming.",
		UtteranceID: "u5", Raw: `{"action":"go_to"}`,
		Stats: &DecisionStats{PromptTokens: 812, ReusedTokens: 640, GeneratedTokens: 23, TTFTMS: 41.5, TotalMS: 212.25}},
	&Decision{Stats: &DecisionStats{}},
	&Decision{Stats: &DecisionStats{PromptTokens: -1, TTFTMS: 3, TotalMS: math.NaN(), Fallback: true}},
}

// TestOutMsgpackMatchesReflection: the hand-written encoders of say, act,
// action_status and decision write byte for byte what reflection writes,
// and the fast decoders read those bytes back as reflection does.
func TestOutMsgpackMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	msgs := append([]Message(nil), outMessages...)
	for range 1000 {
		say, act, status, decision := randSay(r), randAct(r), randActionStatus(r), randDecision(r)
		msgs = append(msgs, &say, &act, &status, &decision)
	}
	for i, m := range msgs {
		fast := reflectEncode(t, m)
		want := reflectEncode(t, plainOf(m))
		if !bytes.Equal(fast, want) {
			t.Fatalf("case %d (%s %+v): EncodeMsgpack wrote\n%x\nreflection writes\n%x", i, m.MessageType(), m, fast, want)
		}
		got := NewMessage(m.MessageType())
		if !decodeBodyMsgpack(fast, got) {
			t.Fatalf("case %d (%s): the fast decoder refused a body the encoder wrote: %x", i, m.MessageType(), fast)
		}
		ref, err := reflectDecodeAs(m.MessageType(), fast)
		if err != nil {
			t.Fatal(err)
		}
		if !sameMessage(t, got, ref) {
			t.Fatalf("case %d (%s): fast decode\n%+v\nreflection\n%+v", i, m.MessageType(), got, ref)
		}
	}
}

// TestOutFastDecodeOddFrames: frames that are valid msgpack but not what
// the encoder writes — a struct as an array, a key twice, a value of the
// wrong type, unknown keys, bin for str, nil for anything — decode through
// the codec exactly as reflection decodes them, errors included.
func TestOutFastDecodeOddFrames(t *testing.T) {
	type obj = map[string]any
	cases := []struct {
		name string
		typ  string
		body []byte
		fast bool // the fast path takes it
	}{
		{"say as array", "say", reflectEncode(t, []any{"u1", "d", true, "t"}), false},
		{"say with unknown keys", "say", reflectEncode(t, obj{"utterance_id": "u1", "mood": obj{"x": 1}, "zz": []any{1}}), true},
		{"say final nil", "say", reflectEncode(t, obj{"utterance_id": "u1", "final": nil}), true},
		{"say final as 1", "say", reflectEncode(t, obj{"utterance_id": "u1", "final": 1}), false},
		{"say delta as bin", "say", reflectEncode(t, obj{"utterance_id": "u1", "delta": []byte("hi")}), true},
		{"say delta as number", "say", reflectEncode(t, obj{"utterance_id": "u1", "delta": 3}), false},
		{"say key twice", "say", []byte("\x83\xacutterance_id\xa2u1\xa5delta\xa1a\xa5delta\xa1b"), false},
		{"say empty", "say", []byte{0x80}, true},
		{"act args nil", "act", reflectEncode(t, obj{"action_id": "a", "name": "n", "args": nil}), true},
		{"act args as array", "act", reflectEncode(t, obj{"action_id": "a", "name": "n", "args": []any{1}}), false},
		{"act args int key", "act", []byte("\x83\xa9action_id\xa1a\xa4name\xa1n\xa4args\x81\x01\x02"), false},
		{"act args key twice", "act", []byte("\x83\xa9action_id\xa1a\xa4name\xa1n\xa4args\x82\xa1k\x01\xa1k\x02"), true},
		{"act args numbers", "act", reflectEncode(t, obj{"action_id": "a", "name": "n", "args": obj{
			"u64": uint64(1<<64 - 1), "i64": int64(-1 << 62), "f32": float32(1.25), "bin": []byte{0xff}, "nest": []any{obj{"x": uint8(200)}}}}), true},
		{"act as array", "act", reflectEncode(t, []any{"a", "n", nil}), false},
		{"action_status status as bool", "action_status", reflectEncode(t, obj{"action_id": "a", "status": true}), false},
		{"action_status as nil fields", "action_status", reflectEncode(t, obj{"action_id": nil, "status": nil, "reason": nil}), true},
		{"decision stats nil", "decision", reflectEncode(t, obj{"stats": nil, "say": "hi"}), true},
		{"decision stats as array", "decision", reflectEncode(t, obj{"stats": []any{1, 2, 3, 4, 5, 6}}), false},
		{"decision stats float tokens", "decision", reflectEncode(t, obj{"stats": obj{"prompt_tokens": 1.5}}), false},
		{"decision stats int ms", "decision", reflectEncode(t, obj{"stats": obj{"ttft_ms": 12, "total_ms": uint64(1<<64 - 1)}}), true},
		{"decision stats huge tokens", "decision", reflectEncode(t, obj{"stats": obj{"prompt_tokens": uint64(1<<64 - 1)}}), true},
		{"decision stats twice", "decision", []byte("\x82\xa5stats\x80\xa5stats\x81\xa7ttft_ms\x01"), false},
	}
	codec := MsgpackCodec{}
	for _, c := range cases {
		if err := checkMsgpack(c.body); err != nil {
			t.Fatalf("%s: bad test body %x: %v", c.name, c.body, err)
		}
		if took := checkFastDecodeAs(t, c.typ, c.body); took != c.fast {
			t.Errorf("%s: fast path took it = %v; want %v", c.name, took, c.fast)
		}
		frame := append(reflectEncode(t, obj{"type": c.typ, "npc": "n1"})[:0:0], 0x83)
		frame = append(frame, reflectEncode(t, "type")...)
		frame = append(frame, reflectEncode(t, c.typ)...)
		frame = append(frame, reflectEncode(t, "npc")...)
		frame = append(frame, reflectEncode(t, "n1")...)
		frame = append(frame, reflectEncode(t, "body")...)
		frame = append(frame, c.body...)
		env, err := codec.decode(frame)
		if b := c.body[0]; b&0xf0 != 0x80 && b != 0xde && b != 0xdf {
			// The codec refuses a body that is not a map before any
			// decoder sees it.
			if want := fieldError("body", "not a map"); err == nil || err.Error() != want.Error() {
				t.Errorf("%s: Decode error = %v; want %v", c.name, err, want)
			}
			continue
		}
		ref, rerr := reflectDecodeAs(c.typ, c.body)
		if rerr != nil {
			want := msgpackFieldError(msgpack.NewDecoder(nil), c.body, c.typ, rerr)
			if err == nil || err.Error() != want.Error() {
				t.Errorf("%s: Decode error = %v; want %v", c.name, err, want)
			}
			continue
		}
		if env.Body == nil || !sameMessage(t, env.Body, ref) {
			t.Errorf("%s: Decode body = %+v (err %v); want %+v", c.name, env.Body, err, ref)
		}
	}
}

// TestOutFastDecodeAgreesOnOddFrames throws random values of every type at
// the fields of every message with a fast decoder: whatever a fast decoder
// takes, it reads as reflection does; the rest goes to reflection.
func TestOutFastDecodeAgreesOnOddFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	accepted := map[string]int{}
	for range 10000 {
		body := reflectEncode(t, randMap(r, 3))
		for _, typ := range fastTypes {
			if checkFastDecodeAs(t, typ, body) {
				accepted[typ]++
			}
		}
	}
	for _, typ := range fastTypes {
		if accepted[typ] < 500 {
			t.Errorf("the %s fast decoder took only %d of 10,000 random bodies; the test is not exercising it", typ, accepted[typ])
		}
	}
}

// FuzzSayActMsgpack holds the fast decoders of say, act, action_status and
// decision to reflection's reading of any body.
func FuzzSayActMsgpack(f *testing.F) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, m := range outMessages {
		f.Add(reflectEncode(f, m))
	}
	for range 10 {
		say, act, decision := randSay(r), randAct(r), randDecision(r)
		f.Add(reflectEncode(f, &say))
		f.Add(reflectEncode(f, &act))
		f.Add(reflectEncode(f, &decision))
		f.Add(reflectEncode(f, randMap(r, 3)))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range fastTypes[1:] {
			checkFastDecodeAs(t, typ, body)
		}
	})
}

// BenchmarkMsgpackBody sets reflection and the hand-written paths side by
// side on the bodies of the hottest messages, each as the codec runs it:
// encoding into a pooled encoder with the codec's settings, decoding a
// body into a new message.
func BenchmarkMsgpackBody(b *testing.B) {
	bodies := []struct {
		name string
		msg  Message
	}{
		{"say", &Say{UtteranceID: "u5", Delta: "Leave it on "}},
		{"act", &Act{ActionID: "a17", Name: "go_to", Args: Args{"target": "p1", "speed": 1.5}}},
		{"action_status", &ActionStatus{ActionID: "a17", Status: StatusSuccess}},
		{"decision", &Decision{Emotion: "neutral", Action: "repair", Target: "p1", Say: "Leave it on the anvil.", UtteranceID: "u5",
			Raw:   `{"emotion":"neutral","action":{"name":"repair","target":"p1"},"say":"Leave it on the anvil."}`,
			Stats: &DecisionStats{PromptTokens: 412, ReusedTokens: 380, GeneratedTokens: 24, TTFTMS: 38.5, TotalMS: 151}}},
	}
	for _, c := range bodies {
		plain := plainOf(c.msg)
		body := reflectEncode(b, c.msg)
		for _, path := range []struct {
			name string
			v    any          // what the encoder is given
			typ  reflect.Type // what the decoder fills
		}{
			{"reflection", plain, reflect.TypeOf(plain).Elem()},
			{"fast", c.msg, reflect.TypeOf(c.msg).Elem()},
		} {
			b.Run("encode/"+c.name+"/"+path.name, func(b *testing.B) {
				b.ReportAllocs()
				var buf bytes.Buffer
				for b.Loop() {
					buf.Reset()
					enc := msgpack.GetEncoder()
					enc.Reset(&buf)
					enc.SetCustomStructTag("json")
					enc.SetSortMapKeys(true)
					enc.UseCompactInts(true)
					if err := enc.Encode(path.v); err != nil {
						b.Fatal(err)
					}
					msgpack.PutEncoder(enc)
				}
			})
			b.Run("decode/"+c.name+"/"+path.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					v := reflect.New(path.typ).Interface()
					if m, ok := v.(Message); ok {
						if !decodeBodyMsgpack(body, m) {
							b.Fatal("the fast path declined")
						}
						continue
					}
					dec := msgpack.GetDecoder()
					resetDecoder(dec, body)
					if err := dec.Decode(v); err != nil {
						b.Fatal(err)
					}
					msgpack.PutDecoder(dec)
				}
			})
		}
	}
}
