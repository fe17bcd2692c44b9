package protocol

import (
	"bytes"
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
		if !decodePerceiveMsgpack(fast, &got) {
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

// randMap is a map whose keys are mostly Perceive's own, so that values of
// every type land in real fields.
func randMap(r *rand.Rand, depth int) map[string]any {
	keys := []string{"time", "self", "entities", "events", "position", "location", "health", "status",
		"inventory", "x", "y", "z", "id", "kind", "name", "relation", "source", "target", "text", "item", "other"}
	m := map[string]any{}
	for range r.IntN(6) {
		m[keys[r.IntN(len(keys))]] = randValue(r, depth)
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
	if !decodePerceiveMsgpack(body, &got) {
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
