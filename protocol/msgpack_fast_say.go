package protocol

import (
	"math"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// After perceptions, a crowd's traffic is the server's replies: a say delta
// per decoded token or so for every NPC that speaks, an act and a decision
// per choice, and the client's action_status for each act. At 10,000 NPCs
// reflection was the first thing to bend there too, so these messages get
// the same treatment as Perceive (msgpack_fast.go): encoders that write
// exactly reflection's bytes, and decoders that hand anything unusual back
// to reflection. TestOutMsgpackMatchesReflection and FuzzSayActMsgpack hold
// them to that. Like Perceive's, the encoders write what reflection writes
// under the codec's settings (json tags, sorted map keys, compact ints),
// whatever the encoder they are handed is set to.

// EncodeMsgpack implements msgpack.CustomEncoder with the bytes the
// library's reflection would write.
func (s *Say) EncodeMsgpack(enc *msgpack.Encoder) error {
	if s == nil {
		return enc.EncodeNil() // as reflection writes a nil pointer
	}
	w := mpWriter{enc: enc}
	w.mapLen(1 + count(s.Delta != "", s.Final, s.Text != ""))
	w.str("utterance_id")
	w.str(s.UtteranceID)
	w.optStr("delta", s.Delta)
	if s.Final {
		w.str("final")
		w.bool(true)
	}
	w.optStr("text", s.Text)
	return w.err
}

// EncodeMsgpack implements msgpack.CustomEncoder with the bytes the
// library's reflection would write.
func (a *ActionStatus) EncodeMsgpack(enc *msgpack.Encoder) error {
	if a == nil {
		return enc.EncodeNil() // as reflection writes a nil pointer
	}
	w := mpWriter{enc: enc}
	w.mapLen(2 + count(a.Reason != ""))
	w.str("action_id")
	w.str(a.ActionID)
	w.str("status")
	w.str(a.Status)
	w.optStr("reason", a.Reason)
	return w.err
}

// EncodeMsgpack implements msgpack.CustomEncoder with the bytes the
// library's reflection would write.
func (a *Act) EncodeMsgpack(enc *msgpack.Encoder) error {
	if a == nil {
		return enc.EncodeNil() // as reflection writes a nil pointer
	}
	w := mpWriter{enc: enc}
	w.mapLen(2 + count(len(a.Args) > 0))
	w.str("action_id")
	w.str(a.ActionID)
	w.str("name")
	w.str(a.Name)
	w.optArgs("args", a.Args)
	return w.err
}

// EncodeMsgpack implements msgpack.CustomEncoder with the bytes the
// library's reflection would write.
func (d *Decision) EncodeMsgpack(enc *msgpack.Encoder) error {
	if d == nil {
		return enc.EncodeNil() // as reflection writes a nil pointer
	}
	w := mpWriter{enc: enc}
	w.mapLen(count(d.Emotion != "", d.Action != "", d.Target != "", len(d.Args) > 0,
		d.Say != "", d.UtteranceID != "", d.Raw != "", d.Stats != nil))
	w.optStr("emotion", d.Emotion)
	w.optStr("action", d.Action)
	w.optStr("target", d.Target)
	w.optArgs("args", d.Args)
	w.optStr("say", d.Say)
	w.optStr("utterance_id", d.UtteranceID)
	w.optStr("raw", d.Raw)
	if s := d.Stats; s != nil {
		w.str("stats")
		w.mapLen(5 + count(s.Fallback))
		w.str("prompt_tokens")
		w.int(s.PromptTokens)
		w.str("reused_tokens")
		w.int(s.ReusedTokens)
		w.str("generated_tokens")
		w.int(s.GeneratedTokens)
		w.str("ttft_ms")
		w.float(s.TTFTMS)
		w.str("total_ms")
		w.float(s.TotalMS)
		if s.Fallback {
			w.str("fallback")
			w.bool(true)
		}
	}
	return w.err
}

func (w *mpWriter) bool(b bool) {
	if w.err == nil {
		w.err = w.enc.EncodeBool(b)
	}
}

// int writes an int field as reflection does under UseCompactInts: in the
// fewest bytes.
func (w *mpWriter) int(n int) {
	if w.err == nil {
		w.err = w.enc.EncodeInt(int64(n))
	}
}

// optArgs writes key and a unless a is empty (omitempty). Reflection
// writes an Args as the library's EncodeMapSorted does, keys in sort.Strings
// order and each value by Encode; this does the same without its key slice
// allocation for the usual handful of keys.
func (w *mpWriter) optArgs(key string, a Args) {
	if len(a) == 0 || w.err != nil {
		return
	}
	w.str(key)
	var buf [8]string
	keys := buf[:0]
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys) // map keys are distinct, so any sort gives sort.Strings' order
	w.mapLen(len(keys))
	for _, k := range keys {
		w.str(k)
		if w.err == nil {
			w.err = w.enc.Encode(a[k])
		}
	}
}

// decodeBodyMsgpack decodes body (a msgpack map, checked by checkMsgpack)
// into msg, a zero message, where msg's type has a hand-written decoder.
// It reports false, leaving msg zero, where the library's reflection must
// decode it: another type, or a frame the fast path does not take.
func decodeBodyMsgpack(body []byte, msg Message) bool {
	r := mpReader{b: body}
	switch m := msg.(type) {
	case *Perceive:
		return decodeWith(&r, m, (*mpReader).perceive)
	case *Say:
		return decodeWith(&r, m, (*mpReader).say)
	case *Act:
		return decodeWith(&r, m, (*mpReader).act)
	case *ActionStatus:
		return decodeWith(&r, m, (*mpReader).actionStatus)
	case *Decision:
		return decodeWith(&r, m, (*mpReader).decision)
	}
	return false
}

// decodeWith reads m from all of r by read, or zeroes m and reports false.
func decodeWith[T any](r *mpReader, m *T, read func(*mpReader, *T) bool) bool {
	if read(r, m) && r.i == len(r.b) {
		return true
	}
	var zero T
	*m = zero
	return false
}

func (r *mpReader) say(s *Say) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "utterance_id":
			return 1, r.strTo(&s.UtteranceID)
		case "delta":
			return 2, r.strTo(&s.Delta)
		case "final":
			return 4, r.boolTo(&s.Final)
		case "text":
			return 8, r.strTo(&s.Text)
		}
		return 0, r.skip()
	})
}

func (r *mpReader) actionStatus(a *ActionStatus) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "action_id":
			return 1, r.strTo(&a.ActionID)
		case "status":
			return 2, r.strTo(&a.Status)
		case "reason":
			return 4, r.strTo(&a.Reason)
		}
		return 0, r.skip()
	})
}

func (r *mpReader) act(a *Act) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "action_id":
			return 1, r.strTo(&a.ActionID)
		case "name":
			return 2, r.strTo(&a.Name)
		case "args":
			return 4, r.args(&a.Args)
		}
		return 0, r.skip()
	})
}

func (r *mpReader) decision(d *Decision) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "emotion":
			return 1, r.strTo(&d.Emotion)
		case "action":
			return 2, r.strTo(&d.Action)
		case "target":
			return 4, r.strTo(&d.Target)
		case "args":
			return 8, r.args(&d.Args)
		case "say":
			return 16, r.strTo(&d.Say)
		case "utterance_id":
			return 32, r.strTo(&d.UtteranceID)
		case "raw":
			return 64, r.strTo(&d.Raw)
		case "stats":
			if c, ok := r.code(); ok && c == 0xc0 { // nil: no stats
				r.i++
				d.Stats = nil
				return 128, true
			}
			d.Stats = new(DecisionStats)
			return 128, r.decisionStats(d.Stats)
		}
		return 0, r.skip()
	})
}

func (r *mpReader) decisionStats(s *DecisionStats) bool {
	return r.fields(func(key []byte) (uint32, bool) {
		switch string(key) {
		case "prompt_tokens":
			return 1, r.intTo(&s.PromptTokens)
		case "reused_tokens":
			return 2, r.intTo(&s.ReusedTokens)
		case "generated_tokens":
			return 4, r.intTo(&s.GeneratedTokens)
		case "ttft_ms":
			return 8, r.floatTo(&s.TTFTMS)
		case "total_ms":
			return 16, r.floatTo(&s.TotalMS)
		case "fallback":
			return 32, r.boolTo(&s.Fallback)
		}
		return 0, r.skip()
	})
}

// boolTo reads a bool into *dst as the library's DecodeBool: true, false,
// or nil as false.
func (r *mpReader) boolTo(dst *bool) bool {
	c, ok := r.code()
	if !ok || c != 0xc0 && c != 0xc2 && c != 0xc3 {
		return false
	}
	r.i++
	*dst = c == 0xc3
	return true
}

// intTo reads an int into *dst as the library's DecodeInt64: any integer
// (a uint64 past MaxInt64 wraps, as there), nil as 0; a float goes to
// reflection, which refuses it.
func (r *mpReader) intTo(dst *int) bool {
	f, ok := r.number()
	*dst = int(f.i)
	return ok && !f.isFloat
}

// mpNumber is a number as read: an integer in i (uint64 above MaxInt64
// wrapped to negative, as the library's int64 readers do) or a float in f.
type mpNumber struct {
	i       int64
	f       float64
	isFloat bool
	isUint  bool // the integer was encoded unsigned (0xcc-0xcf)
}

// number reads any integer or float, or nil as integer 0.
func (r *mpReader) number() (mpNumber, bool) {
	c, ok := r.code()
	if !ok {
		return mpNumber{}, false
	}
	r.i++
	var v uint64
	switch {
	case c == 0xc0:
		return mpNumber{}, true
	case c <= 0x7f || c >= 0xe0:
		return mpNumber{i: int64(int8(c))}, true
	case c == 0xca:
		v, ok = r.uint(4)
		return mpNumber{f: float64(math.Float32frombits(uint32(v))), isFloat: true}, ok
	case c == 0xcb:
		v, ok = r.uint(8)
		return mpNumber{f: math.Float64frombits(v), isFloat: true}, ok
	case c >= 0xcc && c <= 0xcf:
		v, ok = r.uint(1 << (c - 0xcc))
		return mpNumber{i: int64(v), isUint: true}, ok
	case c == 0xd0:
		v, ok = r.uint(1)
		return mpNumber{i: int64(int8(v))}, ok
	case c == 0xd1:
		v, ok = r.uint(2)
		return mpNumber{i: int64(int16(v))}, ok
	case c == 0xd2:
		v, ok = r.uint(4)
		return mpNumber{i: int64(int32(v))}, ok
	case c == 0xd3:
		v, ok = r.uint(8)
		return mpNumber{i: int64(v)}, ok
	}
	return mpNumber{}, false
}

// args reads an Args map as Args.DecodeMsgpack does: the library's
// DecodeMap under loose interface decoding, then normalize, so every
// number is a float64, bin is a string, and nested values are []any and
// map[string]any. A key given twice keeps its last value, as there.
func (r *mpReader) args(dst *Args) bool {
	m, ok := r.anyMap()
	*dst = m
	return ok
}

func (r *mpReader) anyMap() (map[string]any, bool) {
	n, ok := r.container(true)
	if !ok || n < 0 {
		return nil, ok
	}
	m := make(map[string]any, n)
	for range n {
		k, ok := r.str()
		if !ok {
			return nil, false
		}
		if m[k], ok = r.anyValue(); !ok {
			return nil, false
		}
	}
	return m, true
}

// anyValue reads one Args value, normalized.
func (r *mpReader) anyValue() (any, bool) {
	c, ok := r.code()
	if !ok {
		return nil, false
	}
	switch {
	case c == 0xc0:
		r.i++
		return nil, true
	case c == 0xc2 || c == 0xc3:
		r.i++
		return c == 0xc3, true
	case c&0xe0 == 0xa0 || c >= 0xd9 && c <= 0xdb || c >= 0xc4 && c <= 0xc6:
		return r.str()
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		return r.anyMap()
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		n, ok := r.container(false)
		if !ok {
			return nil, false
		}
		a := make([]any, n)
		for i := range a {
			if a[i], ok = r.anyValue(); !ok {
				return nil, false
			}
		}
		return a, true
	}
	f, ok := r.number()
	switch {
	case !ok:
		return nil, false
	case f.isFloat:
		return f.f, true
	case f.isUint:
		return float64(uint64(f.i)), true
	}
	return float64(f.i), true
}
