package protocol_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anima-rt/anima/protocol"
)

// obj is a frame written as Go values, encoded by each codec in turn, so one
// table row tests the same mistake in both encodings.
type obj = map[string]any

func entities(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = obj{"id": "e", "position": obj{"x": 1, "y": 2}}
	}
	return out
}

func nested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	return v
}

// decodeErrorCases lists frames each decoder must refuse, and how.
var decodeErrorCases = []struct {
	name  string
	frame obj    // encoded by both codecs; nil when only raw frames apply
	json  string // a raw JSON frame instead of frame
	mp    []byte // a raw msgpack frame instead of frame
	code  protocol.Code
	field string // the Field the error names, in both codecs
	id    string // the request id the failed envelope must still carry
}{
	{name: "truncated", json: `{"type":"ping","id":`, mp: []byte{0x82, 0xa4, 't', 'y', 'p', 'e'}, code: protocol.CodeBadFrame},
	{name: "empty", json: ``, mp: []byte{}, code: protocol.CodeBadFrame},
	{name: "not a map", frame: nil, json: `["ping"]`, mp: []byte{0x91, 0xa4, 'p', 'i', 'n', 'g'}, code: protocol.CodeBadFrame},
	{name: "trailing bytes", json: `{"type":"ping"} {}`, mp: []byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g', 0xc0}, code: protocol.CodeBadFrame},
	{name: "no type", frame: obj{"id": "r1", "body": obj{}}, code: protocol.CodeBadField, field: "type", id: "r1"},
	{name: "type not a string", frame: obj{"type": 5, "id": "r1"}, code: protocol.CodeBadField, field: "type", id: "r1"},
	{name: "unknown type", frame: obj{"type": "dance", "id": "r2"}, code: protocol.CodeUnknownType, id: "r2"},
	{name: "server type from client", frame: obj{"type": "welcome", "id": "r3", "body": obj{}}, code: protocol.CodeUnknownType, id: "r3"},
	{name: "body not a map", frame: obj{"type": "ping", "id": "r4", "body": 3}, code: protocol.CodeBadField, field: "body", id: "r4"},
	{name: "seq not a number", frame: obj{"type": "ping", "seq": "x"}, code: protocol.CodeBadField, field: "seq"},
	{name: "field of wrong type", frame: obj{"type": "player_say", "id": "r5", "npc": "n1", "body": obj{"speaker": "p1", "text": 5}},
		code: protocol.CodeBadField, field: "body.text", id: "r5"},
	{name: "nested field of wrong type", frame: obj{"type": "perceive", "npc": "n1", "body": obj{"entities": []any{obj{"id": "e1", "position": obj{"x": "east"}}}}},
		code: protocol.CodeBadField, field: "body.entities.position.x"},
	{name: "missing text", frame: obj{"type": "player_say", "id": "r6", "npc": "n1", "body": obj{"speaker": "p1"}},
		code: protocol.CodeBadField, field: "body.text", id: "r6"},
	{name: "missing npc", frame: obj{"type": "perceive", "id": "r7", "body": obj{}}, code: protocol.CodeBadField, field: "npc", id: "r7"},
	{name: "missing body", frame: obj{"type": "player_say", "npc": "n1"}, code: protocol.CodeBadField, field: "body.speaker"},
	{name: "too many entities", frame: obj{"type": "perceive", "npc": "n1", "body": obj{"entities": entities(protocol.MaxEntities + 1)}},
		code: protocol.CodeBadField, field: "body.entities"},
	{name: "entity without id", frame: obj{"type": "perceive", "npc": "n1", "body": obj{"entities": []any{obj{"kind": "player"}}}},
		code: protocol.CodeBadField, field: "body.entities.0.id"},
	{name: "second entity's relation too long", frame: obj{"type": "perceive", "npc": "n1", "body": obj{"entities": []any{
		obj{"id": "e1"}, obj{"id": "e2", "relation": strings.Repeat("r", protocol.MaxNameBytes+1)}}}},
		code: protocol.CodeBadField, field: "body.entities.1.relation"},
	{name: "event without kind", frame: obj{"type": "perceive", "npc": "n1", "body": obj{"events": []any{obj{"kind": "speech"}, obj{"text": "hi"}}}},
		code: protocol.CodeBadField, field: "body.events.1.kind"},
	{name: "empty inventory item", frame: obj{"type": "perceive", "npc": "n1", "body": obj{"self": obj{"inventory": []any{"ore", ""}}}},
		code: protocol.CodeBadField, field: "body.self.inventory.1"},
	{name: "text too long", frame: obj{"type": "player_say", "npc": "n1", "body": obj{"speaker": "p1", "text": strings.Repeat("a", protocol.MaxTextBytes+1)}},
		code: protocol.CodeBadField, field: "body.text"},
	{name: "id too long", frame: obj{"type": "ping", "id": strings.Repeat("i", protocol.MaxIDBytes+1)}, code: protocol.CodeBadField, field: "id"},
	{name: "bad action status", frame: obj{"type": "action_status", "npc": "n1", "body": obj{"action_id": "a1", "status": "done"}},
		code: protocol.CodeBadField, field: "body.status"},
	{name: "no versions", frame: obj{"type": "hello", "body": obj{"client": "x"}}, code: protocol.CodeBadField, field: "body.versions"},
	{name: "spawn without persona", frame: obj{"type": "spawn", "npc": "n1", "body": obj{"tree": "villager"}},
		code: protocol.CodeBadField, field: "body.persona"},
	{name: "blackboard too deep", frame: obj{"type": "spawn", "npc": "n1", "body": obj{"persona": "p", "blackboard": obj{"k": nested(protocol.MaxArgsDepth + 1)}}},
		code: protocol.CodeBadField, field: "body.blackboard.k.0.0.0.0"},
	{name: "coordinate out of range", frame: obj{"type": "perceive", "npc": "n1", "body": obj{"self": obj{"position": obj{"x": 2e9, "y": 0}}}},
		code: protocol.CodeBadField, field: "body.self.position.x"},
	// Mistakes that only msgpack can carry.
	{name: "NaN position", mp: mustMsgpack(obj{"type": "perceive", "npc": "n1", "body": obj{"self": obj{"position": obj{"x": math.NaN(), "y": 0}}}}),
		code: protocol.CodeBadField, field: "body.self.position.x"},
	{name: "invalid UTF-8", mp: mustMsgpack(obj{"type": "player_say", "npc": "n1", "body": obj{"speaker": "p1", "text": "\xff\xfe"}}),
		code: protocol.CodeBadField, field: "body.text"},
	{name: "ext type", mp: []byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xd4, 0x01, 0x00}, code: protocol.CodeBadFrame},
	{name: "map declares 4G entries", mp: []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa4, 't', 'y', 'p', 'e'}, code: protocol.CodeBadFrame},
	{name: "string declares 4 GiB", mp: []byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, code: protocol.CodeBadFrame},
	{name: "nested 10000 deep", mp: append([]byte{0x81, 0xa4, 'b', 'o', 'd', 'y'}, append(bytesRepeat(0x91, 10000), 0xc0)...), code: protocol.CodeBadFrame},
	{name: "0xc1", mp: []byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xc1}, code: protocol.CodeBadFrame},
	{name: "non-string key", mp: []byte{0x81, 0x01, 0xc0}, code: protocol.CodeBadFrame},
	{name: "blackboard binary value is text", mp: mustMsgpack(obj{"type": "spawn", "npc": "n1", "body": obj{"persona": "p", "blackboard": obj{"k": []byte{0xff}}}}),
		code: protocol.CodeBadField, field: "body.blackboard.k"},
}

func bytesRepeat(b byte, n int) []byte { return []byte(strings.Repeat(string([]byte{b}), n)) }

func mustMsgpack(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestDecodeErrors checks that every malformed frame yields a *Error with
// the right code and field, and keeps the request id for the reply.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range decodeErrorCases {
		for _, c := range codecs {
			var frame []byte
			field := tc.field
			switch {
			case c.ext == ".json" && tc.frame != nil:
				b, err := json.Marshal(tc.frame)
				if err != nil {
					t.Fatal(err)
				}
				frame = b
			case c.ext == ".json" && tc.json != "" || c.ext == ".json" && tc.name == "empty":
				frame = []byte(tc.json)
			case c.ext != ".json" && tc.frame != nil:
				frame = mustMsgpack(tc.frame)
			case c.ext != ".json" && tc.mp != nil:
				frame = tc.mp
			default:
				continue
			}
			codec, err := protocol.NewCodec(c.codec.Subprotocol(), protocol.FromClient, 0)
			if err != nil {
				t.Fatal(err)
			}
			env, err := codec.Decode(frame)
			var perr *protocol.Error
			if !errors.As(err, &perr) {
				t.Errorf("%s: Decode(%s) error = %v; want a *protocol.Error", c.codec.Subprotocol(), tc.name, err)
				continue
			}
			if perr.Code != tc.code || perr.Field != field {
				t.Errorf("%s: Decode(%s) = code %s field %q (%v); want code %s field %q",
					c.codec.Subprotocol(), tc.name, perr.Code, perr.Field, perr, tc.code, field)
			}
			if env.ID != tc.id {
				t.Errorf("%s: Decode(%s) id = %q; want %q", c.codec.Subprotocol(), tc.name, env.ID, tc.id)
			}
			if verr := perr.Validate(); verr != nil {
				t.Errorf("%s: Decode(%s) error cannot be sent back: %v", c.codec.Subprotocol(), tc.name, verr)
			}
		}
	}
}

// TestDecodeTooLarge checks the size limit before any parsing.
func TestDecodeTooLarge(t *testing.T) {
	for _, c := range codecs {
		codec, _ := protocol.NewCodec(c.codec.Subprotocol(), 0, 64)
		frame, err := codec.Encode(protocol.NewEnvelope("r1", "n1", &protocol.PlayerSay{Speaker: "p1", Text: strings.Repeat("x", 100)}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = codec.Decode(frame)
		if !errors.Is(err, &protocol.Error{Code: protocol.CodeTooLarge}) {
			t.Errorf("%s: Decode(%d-byte frame) with a 64-byte limit = %v; want too_large", c.codec.Subprotocol(), len(frame), err)
		}
	}
}

// TestUnknownFieldsIgnored: later minor revisions may add fields, and older
// peers must go on working.
func TestUnknownFieldsIgnored(t *testing.T) {
	frame := obj{"type": "say", "npc": "n1", "seq": 3, "extra": true,
		"body": obj{"utterance_id": "u1", "delta": "hi", "mood": "new field"}}
	want := protocol.Envelope{Type: "say", NPC: "n1", Seq: 3, Body: &protocol.Say{UtteranceID: "u1", Delta: "hi"}}
	for _, c := range codecs {
		var b []byte
		if c.ext == ".json" {
			b, _ = json.Marshal(frame)
		} else {
			b = mustMsgpack(frame)
		}
		env, err := c.codec.Decode(b)
		if err != nil || !reflect.DeepEqual(env, want) {
			t.Errorf("%s: Decode(%s) = %+v, %v; want %+v", c.codec.Subprotocol(), b, env, err, want)
		}
	}
}

// TestArgsNumbersAgree: whichever codec carried them, numbers in Args decode
// as float64, so NPC code never sees int8 from one client and float64 from
// another.
func TestArgsNumbersAgree(t *testing.T) {
	frame := obj{"type": "act", "npc": "n1", "body": obj{"action_id": "a1", "name": "give",
		"args": obj{"count": 3, "big": uint64(1) << 40, "neg": -7, "f": float32(0.5), "list": []any{1, obj{"n": 2}}}}}
	want := protocol.Args{"count": 3.0, "big": float64(1 << 40), "neg": -7.0, "f": 0.5, "list": []any{1.0, map[string]any{"n": 2.0}}}
	for _, c := range codecs {
		var b []byte
		if c.ext == ".json" {
			b, _ = json.Marshal(frame)
		} else {
			b = mustMsgpack(frame)
		}
		env, err := c.codec.Decode(b)
		if err != nil {
			t.Fatalf("%s: Decode = %v", c.codec.Subprotocol(), err)
		}
		if got := env.Body.(*protocol.Act).Args; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Decode args = %#v; want %#v", c.codec.Subprotocol(), got, want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		offered []int
		want    int
		code    protocol.Code
	}{
		{[]int{1}, 1, ""},
		{[]int{3, 2, 1}, 1, ""},
		{[]int{2}, 0, protocol.CodeUnsupportedVersion},
		{nil, 0, protocol.CodeUnsupportedVersion},
	} {
		got, err := protocol.Negotiate(tc.offered)
		var perr *protocol.Error
		code := protocol.Code("")
		if errors.As(err, &perr) {
			code = perr.Code
		}
		if got != tc.want || code != tc.code {
			t.Errorf("Negotiate(%v) = %d, %v; want %d, code %q", tc.offered, got, err, tc.want, tc.code)
		}
	}
}

func TestEncodeRefusesMismatch(t *testing.T) {
	for _, c := range codecs {
		_, err := c.codec.Encode(protocol.Envelope{Type: "say", Body: &protocol.Act{ActionID: "a", Name: "b"}})
		if err == nil {
			t.Errorf("%s: Encode(say envelope with act body) = nil error; want one", c.codec.Subprotocol())
		}
		frame, err := c.codec.Encode(protocol.Envelope{Type: "ping"})
		if err != nil {
			t.Errorf("%s: Encode(ping with nil body) = %v; want an empty body", c.codec.Subprotocol(), err)
		} else if env, err := c.codec.Decode(frame); err != nil || env.Type != "ping" {
			t.Errorf("%s: Decode(Encode(ping)) = %+v, %v", c.codec.Subprotocol(), env, err)
		}
	}
}

// fuzzDecode is the property both fuzz targets check: Decode never panics;
// a failure is a *Error with a known code that can itself be sent back; a
// success re-encodes, in both codecs, to frames that decode to the same
// canonical frame.
func fuzzDecode(t *testing.T, codec protocol.Codec, frame []byte) {
	env, err := codec.Decode(frame)
	if err != nil {
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			t.Fatalf("Decode error %v (%T) is not a *protocol.Error", err, err)
		}
		if !protocol.KnownCode(perr.Code) {
			t.Fatalf("Decode error code %q is not a protocol code", perr.Code)
		}
		reply := protocol.NewEnvelope(env.ID, env.NPC, perr)
		if err := reply.Validate(); err != nil {
			t.Fatalf("error reply %+v is invalid: %v", perr, err)
		}
		return
	}
	canon, err := codec.Encode(env)
	if err != nil {
		t.Fatalf("Encode(Decode(frame)) = %v", err)
	}
	for _, other := range codecs {
		b, err := other.codec.Encode(env)
		if err != nil {
			t.Fatalf("%s: Encode(Decode(frame)) = %v", other.codec.Subprotocol(), err)
		}
		env2, err := other.codec.Decode(b)
		if err != nil {
			t.Fatalf("%s: Decode(Encode(Decode(frame))) = %v\nframe %q", other.codec.Subprotocol(), err, b)
		}
		again, err := codec.Encode(env2)
		if err != nil {
			t.Fatalf("Encode after %s round trip = %v", other.codec.Subprotocol(), err)
		}
		if string(again) != string(canon) {
			t.Fatalf("round trip through %s changed the frame:\n%q\nwant\n%q", other.codec.Subprotocol(), again, canon)
		}
	}
}

// seedCorpus adds every golden of ext and the error table's frames.
func seedCorpus(f *testing.F, ext string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"+ext))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frameFromGolden(f, ext, data))
	}
	for _, tc := range decodeErrorCases {
		switch {
		case ext == ".json" && tc.frame != nil:
			b, _ := json.Marshal(tc.frame)
			f.Add(b)
		case ext == ".json":
			f.Add([]byte(tc.json))
		case tc.frame != nil:
			f.Add(mustMsgpack(tc.frame))
		default:
			f.Add(tc.mp)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	seedCorpus(f, ".json")
	f.Fuzz(func(t *testing.T, frame []byte) { fuzzDecode(t, protocol.JSONCodec{}, frame) })
}

func FuzzDecodeMsgpack(f *testing.F) {
	seedCorpus(f, ".msgpack.hex")
	f.Fuzz(func(t *testing.T, frame []byte) { fuzzDecode(t, protocol.MsgpackCodec{}, frame) })
}

// TestErrorsAreSendable: whatever goes into an error, the result passes
// Validate, so a server can always send it back.
func TestErrorsAreSendable(t *testing.T) {
	for _, msg := range []string{strings.Repeat("é", protocol.MaxTextBytes), "bad \xff byte", ""} {
		e := protocol.Errorf(protocol.CodeInternal, "%s", msg)
		if err := e.Validate(); err != nil {
			t.Errorf("Errorf(%.20q...).Validate() = %v; want nil", msg, err)
		}
	}
	deep := obj{}
	inner := deep
	for i := range protocol.MaxArgsDepth + 1 {
		next := obj{}
		inner[strings.Repeat(string(rune('a'+i)), protocol.MaxNameBytes)] = next
		inner = next
	}
	frame := mustMsgpack(obj{"type": "act", "npc": "n1", "body": obj{"action_id": "a", "name": "b", "args": deep}})
	_, err := protocol.MsgpackCodec{}.Decode(frame)
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeBadField {
		t.Fatalf("Decode(args nested too deep) = %v; want bad_field", err)
	}
	if verr := perr.Validate(); verr != nil {
		t.Errorf("error for deep args %q cannot be sent: %v", perr.Field, verr)
	}
}
