package protocol

import (
	"encoding/binary"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// Perceptions are nearly all of a game's traffic (2,000 NPCs at 10 Hz are
// 20,000 a second), and the msgpack library's reflection spent ~12 µs
// encoding one and ~11 µs decoding it, most of it looking up struct fields
// and allocating. Perceive therefore has hand-written msgpack: an encoder
// that writes exactly the bytes reflection writes (field order, omitempty,
// float64s), and a decoder over the raw body that handles the shapes
// reflection accepts and hands anything unusual (a struct sent as an
// array, a key twice, a value of the wrong type) back to reflection, so
// that errors, and every odd but valid frame, decode exactly as before.
// TestPerceiveMsgpackMatchesReflection and FuzzPerceiveMsgpack hold both
// to that.

// EncodeMsgpack implements msgpack.CustomEncoder for every frame the codec
// writes: the envelope's fields as reflection writes them (omitempty, in
// order), then the body, by its own EncodeMsgpack where it has one.
func (w wireOut) EncodeMsgpack(enc *msgpack.Encoder) error {
	n := 2 + count(w.ID != "", w.NPC != "", w.Seq != 0)
	mw := mpWriter{enc: enc}
	mw.mapLen(n)
	mw.str("type")
	mw.str(w.Type)
	mw.optStr("id", w.ID)
	mw.optStr("npc", w.NPC)
	if w.Seq != 0 {
		mw.str("seq")
		if mw.err == nil {
			mw.err = enc.EncodeUint(w.Seq)
		}
	}
	mw.str("body")
	if mw.err != nil {
		return mw.err
	}
	// The hot bodies' encoders are called directly, sparing the library
	// its type lookup; the rest go through reflection.
	if ce, ok := w.Body.(msgpack.CustomEncoder); ok {
		return ce.EncodeMsgpack(enc)
	}
	return enc.Encode(w.Body)
}

// EncodeMsgpack implements msgpack.CustomEncoder with the bytes the
// library's reflection would write.
func (p *Perceive) EncodeMsgpack(enc *msgpack.Encoder) error {
	if p == nil {
		return enc.EncodeNil() // as reflection writes a nil pointer
	}
	n := 1 // self
	if p.Time != "" {
		n++
	}
	if len(p.Entities) > 0 {
		n++
	}
	if len(p.Events) > 0 {
		n++
	}
	w := mpWriter{enc: enc}
	w.mapLen(n)
	if p.Time != "" {
		w.str("time")
		w.str(p.Time)
	}
	w.str("self")
	w.self(&p.Self)
	if len(p.Entities) > 0 {
		w.str("entities")
		w.arrayLen(len(p.Entities))
		for i := range p.Entities {
			w.entity(&p.Entities[i])
		}
	}
	if len(p.Events) > 0 {
		w.str("events")
		w.arrayLen(len(p.Events))
		for i := range p.Events {
			w.event(&p.Events[i])
		}
	}
	return w.err
}

// mpWriter writes through a msgpack.Encoder, keeping the first error.
type mpWriter struct {
	enc *msgpack.Encoder
	err error
}

func (w *mpWriter) mapLen(n int) {
	if w.err == nil {
		w.err = w.enc.EncodeMapLen(n)
	}
}

func (w *mpWriter) arrayLen(n int) {
	if w.err == nil {
		w.err = w.enc.EncodeArrayLen(n)
	}
}

func (w *mpWriter) str(s string) {
	if w.err == nil {
		w.err = w.enc.EncodeString(s)
	}
}

func (w *mpWriter) float(f float64) {
	if w.err == nil {
		w.err = w.enc.EncodeFloat64(f)
	}
}

// optStr writes key and s unless s is empty (omitempty).
func (w *mpWriter) optStr(key, s string) {
	if s != "" {
		w.str(key)
		w.str(s)
	}
}

func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

func (w *mpWriter) vec(v *Vec) {
	w.mapLen(2 + count(v.Z != 0))
	w.str("x")
	w.float(v.X)
	w.str("y")
	w.float(v.Y)
	if v.Z != 0 {
		w.str("z")
		w.float(v.Z)
	}
}

func (w *mpWriter) self(s *Self) {
	w.mapLen(1 + count(s.Location != "", s.Health != 0, s.Status != "", len(s.Inventory) > 0))
	w.str("position")
	w.vec(&s.Position)
	w.optStr("location", s.Location)
	if s.Health != 0 {
		w.str("health")
		w.float(s.Health)
	}
	w.optStr("status", s.Status)
	if len(s.Inventory) > 0 {
		w.str("inventory")
		w.arrayLen(len(s.Inventory))
		for _, it := range s.Inventory {
			w.str(it)
		}
	}
}

func (w *mpWriter) entity(e *Entity) {
	w.mapLen(2 + count(e.Kind != "", e.Name != "", e.Relation != ""))
	w.str("id")
	w.str(e.ID)
	w.optStr("kind", e.Kind)
	w.optStr("name", e.Name)
	w.str("position")
	w.vec(&e.Position)
	w.optStr("relation", e.Relation)
}

func (w *mpWriter) event(e *Event) {
	w.mapLen(1 + count(e.Source != "", e.Target != "", e.Text != "", e.Item != ""))
	w.str("kind")
	w.str(e.Kind)
	w.optStr("source", e.Source)
	w.optStr("target", e.Target)
	w.optStr("text", e.Text)
	w.optStr("item", e.Item)
}

// mpReader reads msgpack from b at i; every method reports false at a
// shape it leaves to reflection.
type mpReader struct {
	b []byte
	i int
}

// code returns the next byte without consuming it.
func (r *mpReader) code() (byte, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	return r.b[r.i], true
}

// uint reads an n-byte big-endian length or value after the code byte.
func (r *mpReader) uint(n int) (uint64, bool) {
	if r.i+n > len(r.b) {
		return 0, false
	}
	var v uint64
	switch n {
	case 1:
		v = uint64(r.b[r.i])
	case 2:
		v = uint64(binary.BigEndian.Uint16(r.b[r.i:]))
	case 4:
		v = uint64(binary.BigEndian.Uint32(r.b[r.i:]))
	case 8:
		v = binary.BigEndian.Uint64(r.b[r.i:])
	}
	r.i += n
	return v, true
}

// container reads a map (maps true) or array header: -1 for nil.
func (r *mpReader) container(maps bool) (int, bool) {
	c, ok := r.code()
	if !ok {
		return 0, false
	}
	r.i++
	fix, fix16, fix32 := byte(0x90), byte(0xdc), byte(0xdd)
	if maps {
		fix, fix16, fix32 = 0x80, 0xde, 0xdf
	}
	var n uint64
	switch {
	case c == 0xc0:
		return -1, true
	case c&0xf0 == fix:
		return int(c & 0x0f), true
	case c == fix16:
		n, ok = r.uint(2)
	case c == fix32:
		n, ok = r.uint(4)
	default:
		return 0, false
	}
	// checkMsgpack has bounded every length by the bytes present.
	return int(n), ok && n <= uint64(len(r.b))
}

// str reads a string (or bin, or nil: ""), as the library's DecodeString.
func (r *mpReader) str() (string, bool) {
	b, ok := r.bytes()
	return string(b), ok
}

// bytes reads a string, bin or nil (empty) as str does, without copying.
func (r *mpReader) bytes() ([]byte, bool) {
	c, ok := r.code()
	if !ok {
		return nil, false
	}
	r.i++
	var n uint64
	switch {
	case c == 0xc0:
		return nil, true
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, ok = r.uint(1)
	case c == 0xda || c == 0xc5:
		n, ok = r.uint(2)
	case c == 0xdb || c == 0xc6:
		n, ok = r.uint(4)
	default:
		return nil, false
	}
	if !ok || n > uint64(len(r.b)-r.i) {
		return nil, false
	}
	b := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return b, true
}

// float reads a float64 field as the library does: floats, any integer,
// nil as 0.
func (r *mpReader) float() (float64, bool) {
	c, ok := r.code()
	if !ok {
		return 0, false
	}
	r.i++
	switch {
	case c == 0xc0:
		return 0, true
	case c <= 0x7f || c >= 0xe0:
		return float64(int8(c)), true
	case c == 0xca:
		v, ok := r.uint(4)
		return float64(math.Float32frombits(uint32(v))), ok
	case c == 0xcb:
		v, ok := r.uint(8)
		return math.Float64frombits(v), ok
	case c == 0xcc:
		v, ok := r.uint(1)
		return float64(v), ok
	case c == 0xcd:
		v, ok := r.uint(2)
		return float64(v), ok
	case c == 0xce:
		v, ok := r.uint(4)
		return float64(v), ok
	case c == 0xd0:
		v, ok := r.uint(1)
		return float64(int8(v)), ok
	case c == 0xd1:
		v, ok := r.uint(2)
		return float64(int16(v)), ok
	case c == 0xd2:
		v, ok := r.uint(4)
		return float64(int32(v)), ok
	case c == 0xcf || c == 0xd3:
		// The library reads both 64-bit integers as int64.
		v, ok := r.uint(8)
		return float64(int64(v)), ok
	}
	return 0, false
}

// skip passes over one value of any kind.
func (r *mpReader) skip() bool {
	rest, err := skipMsgpack(r.b[r.i:], 0)
	if err != nil {
		return false
	}
	r.i = len(r.b) - len(rest)
	return true
}

// fields reads a struct encoded as a map, calling field for each key; nil
// leaves the struct zero. field decodes the key's value and returns the
// field's bit in the struct (0 for an unknown key, which it skips): a
// field given twice goes to reflection, which merges it in its own way.
// The key is a slice of the frame, so that a switch on string(key)
// allocates nothing, and field gets no pointer to seen, which would move
// it to the heap.
func (r *mpReader) fields(field func(key []byte) (bit uint32, ok bool)) bool {
	n, ok := r.container(true)
	if !ok {
		return false
	}
	var seen uint32
	for range max(n, 0) {
		key, ok := r.bytes()
		if !ok {
			return false
		}
		bit, ok := field(key)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return true
}

func (r *mpReader) perceive(p *Perceive) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "time":
			return 1, r.strTo(&p.Time)
		case "self":
			return 2, r.self(&p.Self)
		case "entities":
			n, ok := r.container(false)
			if !ok {
				return 4, false
			}
			if n >= 0 {
				p.Entities = make([]Entity, n)
				for i := range p.Entities {
					if !r.entity(&p.Entities[i]) {
						return 4, false
					}
				}
			}
			return 4, true
		case "events":
			n, ok := r.container(false)
			if !ok {
				return 8, false
			}
			if n >= 0 {
				p.Events = make([]Event, n)
				for i := range p.Events {
					if !r.event(&p.Events[i]) {
						return 8, false
					}
				}
			}
			return 8, true
		}
		return 0, r.skip()
	})
}

// strTo reads a string into *dst.
func (r *mpReader) strTo(dst *string) bool {
	s, ok := r.str()
	*dst = s
	return ok
}

// floatTo reads a float64 into *dst.
func (r *mpReader) floatTo(dst *float64) bool {
	f, ok := r.float()
	*dst = f
	return ok
}

func (r *mpReader) vec(v *Vec) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "x":
			return 1, r.floatTo(&v.X)
		case "y":
			return 2, r.floatTo(&v.Y)
		case "z":
			return 4, r.floatTo(&v.Z)
		}
		return 0, r.skip()
	})
}

func (r *mpReader) self(s *Self) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "position":
			return 1, r.vec(&s.Position)
		case "location":
			return 2, r.strTo(&s.Location)
		case "health":
			return 4, r.floatTo(&s.Health)
		case "status":
			return 8, r.strTo(&s.Status)
		case "inventory":
			n, ok := r.container(false)
			if !ok {
				return 16, false
			}
			if n >= 0 {
				s.Inventory = make([]string, n)
				for i := range s.Inventory {
					if !r.strTo(&s.Inventory[i]) {
						return 16, false
					}
				}
			}
			return 16, true
		}
		return 0, r.skip()
	})
}

func (r *mpReader) entity(e *Entity) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "id":
			return 1, r.strTo(&e.ID)
		case "kind":
			return 2, r.strTo(&e.Kind)
		case "name":
			return 4, r.strTo(&e.Name)
		case "position":
			return 8, r.vec(&e.Position)
		case "relation":
			return 16, r.strTo(&e.Relation)
		}
		return 0, r.skip()
	})
}

func (r *mpReader) event(e *Event) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "kind":
			return 1, r.strTo(&e.Kind)
		case "source":
			return 2, r.strTo(&e.Source)
		case "target":
			return 4, r.strTo(&e.Target)
		case "text":
			return 8, r.strTo(&e.Text)
		case "item":
			return 16, r.strTo(&e.Item)
		}
		return 0, r.skip()
	})
}

// fastEnvelope reads frame's envelope (a map, checked by checkMsgpack)
// into env and returns its body as a slice of frame, without copying. It
// reports false for anything but plain strings in type, id, npc and the
// keys, or a seq that is not a non-negative integer: slowEnvelope then
// reads the frame again and names what was wrong.
func fastEnvelope(frame []byte, env *Envelope) ([]byte, bool) {
	r := mpReader{b: frame}
	n, ok := r.container(true)
	if !ok || n < 0 {
		return nil, false
	}
	var body []byte
	for range n {
		key, ok := r.plainBytes()
		if !ok {
			return nil, false
		}
		switch string(key) {
		case "type":
			env.Type, ok = r.plainStr()
		case "id":
			env.ID, ok = r.plainStr()
		case "npc":
			env.NPC, ok = r.plainStr()
		case "seq":
			env.Seq, ok = r.seq()
		case "body":
			from := r.i
			ok = r.skip()
			body = frame[from:r.i:r.i]
		default:
			ok = r.skip()
		}
		if !ok {
			return nil, false
		}
	}
	return body, r.i == len(frame)
}

// plainStr reads a str or nil, the envelope's strings; bin goes to the
// slow path, which refuses it.
func (r *mpReader) plainStr() (string, bool) {
	b, ok := r.plainBytes()
	return string(b), ok
}

// plainBytes reads what plainStr reads, without copying.
func (r *mpReader) plainBytes() ([]byte, bool) {
	if c, ok := r.code(); !ok || c == 0xc4 || c == 0xc5 || c == 0xc6 {
		return nil, false
	}
	return r.bytes()
}

// seq reads a non-negative integer.
func (r *mpReader) seq() (uint64, bool) {
	c, ok := r.code()
	if !ok {
		return 0, false
	}
	r.i++
	switch {
	case c <= 0x7f:
		return uint64(c), true
	case c == 0xcc:
		return r.uint(1)
	case c == 0xcd:
		return r.uint(2)
	case c == 0xce:
		return r.uint(4)
	case c == 0xcf:
		return r.uint(8)
	}
	return 0, false // signed encodings and the rest: the slow path
}
