package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
)

// Websocket frame types (RFC 6455 opcodes, the same numbers as gorilla's
// websocket.TextMessage and websocket.BinaryMessage).
const (
	TextFrame   = 1
	BinaryFrame = 2
)

// Codec turns envelopes into websocket frames and back. Implementations are
// safe for concurrent use.
type Codec interface {
	// Subprotocol is the websocket subprotocol the codec serves.
	Subprotocol() string
	// FrameType is TextFrame or BinaryFrame.
	FrameType() int
	// Encode returns the frame for env. The type is taken from env.Body when
	// env.Type is empty; a nil body encodes as an empty one.
	Encode(env Envelope) ([]byte, error)
	// Decode parses and validates one frame. Every error is a *Error with a
	// protocol code; even then the returned envelope holds the type, id and
	// npc as far as they could be read, so the reply can echo the request id.
	Decode(frame []byte) (Envelope, error)
}

// NewCodec returns the codec for a subprotocol; "" selects msgpack, the
// default. The codec refuses frames longer than maxFrameBytes (0 means
// DefaultMaxFrameBytes) and, if from is not 0, messages that side does not
// send (a server passes FromClient).
func NewCodec(subprotocol string, from Side, maxFrameBytes int) (Codec, error) {
	switch subprotocol {
	case SubprotocolMsgpack, "":
		return MsgpackCodec{MaxFrameBytes: maxFrameBytes, From: from}, nil
	case SubprotocolJSON:
		return JSONCodec{MaxFrameBytes: maxFrameBytes, From: from}, nil
	}
	return nil, fmt.Errorf("protocol: new codec: unknown subprotocol %q", subprotocol)
}

// wireOut is the envelope as both codecs write it; field names are shared
// through the json tags (the msgpack coder is told to read them).
type wireOut struct {
	Type string  `json:"type"`
	ID   string  `json:"id,omitempty"`
	NPC  string  `json:"npc,omitempty"`
	Seq  uint64  `json:"seq,omitempty"`
	Body Message `json:"body"`
}

func toWire(env *Envelope) (wireOut, error) {
	w := wireOut{Type: env.Type, ID: env.ID, NPC: env.NPC, Seq: env.Seq, Body: env.Body}
	if w.Body != nil {
		if w.Type == "" {
			w.Type = w.Body.MessageType()
		} else if w.Type != w.Body.MessageType() {
			return w, fmt.Errorf("protocol: encode: a %s body in a %s envelope", w.Body.MessageType(), w.Type)
		}
	} else {
		w.Body = NewMessage(w.Type)
		if w.Body == nil {
			return w, fmt.Errorf("protocol: encode: unknown message type %q", w.Type)
		}
	}
	return w, nil
}

// finish applies the checks both codecs share once the body is decoded.
func finish(env *Envelope, from Side) error {
	if from != 0 {
		if err := env.CheckSender(from); err != nil {
			return err
		}
	}
	return env.Validate()
}

// echoable clears, after a failed decode, the envelope ids that could not be
// echoed in an error reply (too long, not UTF-8), so that the reply itself is
// always valid.
func echoable(env Envelope, err error) (Envelope, error) {
	if err == nil {
		return env, nil
	}
	if checkString("id", env.ID, MaxIDBytes) != nil {
		env.ID = ""
	}
	if checkString("npc", env.NPC, MaxIDBytes) != nil {
		env.NPC = ""
	}
	return env, err
}

// quote quotes s for an error message, cut to a readable length.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

func maxFrame(n int) int {
	if n <= 0 {
		return DefaultMaxFrameBytes
	}
	return n
}

// ---- JSON ----

// JSONCodec is the JSON encoding of protocol v1 (subprotocol anima.v1.json).
type JSONCodec struct {
	MaxFrameBytes int  // 0 means DefaultMaxFrameBytes
	From          Side // if not 0, Decode refuses messages the other side sends
}

// Subprotocol returns "anima.v1.json".
func (JSONCodec) Subprotocol() string { return SubprotocolJSON }

// FrameType returns TextFrame.
func (JSONCodec) FrameType() int { return TextFrame }

// Encode implements Codec.
func (c JSONCodec) Encode(env Envelope) ([]byte, error) {
	w, err := toWire(&env)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Spoken text is full of quotes and ampersands; HTML escaping would only
	// make frames longer and harder to read.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("protocol: encode %s: %w", w.Type, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonIn is the envelope as read, the body kept raw until the type is known.
type jsonIn struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	NPC  string          `json:"npc"`
	Seq  uint64          `json:"seq"`
	Body json.RawMessage `json:"body"`
}

// Decode implements Codec.
func (c JSONCodec) Decode(frame []byte) (Envelope, error) {
	env, err := c.decode(frame)
	return echoable(env, err)
}

func (c JSONCodec) decode(frame []byte) (Envelope, error) {
	var env Envelope
	if max := maxFrame(c.MaxFrameBytes); len(frame) > max {
		return env, ErrFrameTooLarge(len(frame), max)
	}
	if firstByte(frame) != '{' {
		return env, &Error{Code: CodeBadFrame, Message: "frame is not a JSON object"}
	}
	// Unmarshal checks the syntax of the whole frame before it decodes
	// anything, so a syntax error means a malformed frame and a type error a
	// sound frame with a wrong field.
	var w jsonIn
	err := json.Unmarshal(frame, &w)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return env, &Error{Code: CodeBadFrame, Message: "not a JSON value: " + err.Error(), err: err}
	}
	env = Envelope{Type: w.Type, ID: w.ID, NPC: w.NPC, Seq: w.Seq}
	if err != nil {
		return env, jsonFieldError("", err)
	}
	if err := checkType(env.Type); err != nil {
		return env, err
	}
	body := NewMessage(env.Type)
	if len(w.Body) > 0 && !bytes.Equal(w.Body, []byte("null")) {
		if firstByte(w.Body) != '{' {
			return env, fieldError("body", "not an object")
		}
		if err := json.Unmarshal(w.Body, body); err != nil {
			return env, jsonFieldError("body.", err)
		}
	}
	env.Body = body
	return env, finish(&env, c.From)
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func jsonFieldError(prefix string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := prefix + te.Field
		if te.Field == "" {
			field = prefix + "?"
		}
		return &Error{Code: CodeBadField, Field: field, err: err,
			Message: fmt.Sprintf("%s: a JSON %s cannot be a %s", field, te.Value, te.Type)}
	}
	return &Error{Code: CodeBadField, Field: prefix, Message: prefix + errText(err), err: err}
}

func errText(err error) string {
	if err == nil {
		return "invalid"
	}
	return err.Error()
}

func checkType(t string) error {
	if t == "" {
		return fieldError("type", "required")
	}
	if _, ok := messages[t]; !ok {
		return &Error{Code: CodeUnknownType, Message: "unknown message type " + quote(t)}
	}
	return nil
}

// ---- msgpack ----

// MsgpackCodec is the msgpack encoding of protocol v1 (subprotocol
// anima.v1.msgpack): the same maps, keys and values as the JSON encoding.
type MsgpackCodec struct {
	MaxFrameBytes int  // 0 means DefaultMaxFrameBytes
	From          Side // if not 0, Decode refuses messages the other side sends
}

// Subprotocol returns "anima.v1.msgpack".
func (MsgpackCodec) Subprotocol() string { return SubprotocolMsgpack }

// FrameType returns BinaryFrame.
func (MsgpackCodec) FrameType() int { return BinaryFrame }

// Encode implements Codec.
func (c MsgpackCodec) Encode(env Envelope) ([]byte, error) {
	w, err := toWire(&env)
	if err != nil {
		return nil, err
	}
	// One allocation of about the frame's size instead of the buffer's
	// doublings from 64: a perceive with a few entities is ~450 bytes,
	// most server messages (say deltas, acts) under 128, and frames wait
	// in send queues and the replay ring, so a bigger buffer than needed
	// is memory held.
	size := 128
	switch b := w.Body.(type) {
	case *Perceive:
		size = 512
	case *Decision:
		// The model's raw output and the line it said are most of it
		// (~300 bytes): sized from them, the buffer never regrows.
		size = 256 + len(b.Raw) + len(b.Say) + len(b.Target)
	case *Say:
		size = 96 + len(b.Delta) + len(b.Text) // a final say carries the whole line
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	enc.SetCustomStructTag("json")
	enc.SetSortMapKeys(true) // stable frames: goldens, caches and diffs
	enc.UseCompactInts(true)
	if err := w.EncodeMsgpack(enc); err != nil { // not Encode(w), which boxes w
		return nil, fmt.Errorf("protocol: encode %s: %w", w.Type, err)
	}
	return buf.Bytes(), nil
}

// resetDecoder points dec at b with the protocol's settings; Reset clears
// every setting, so this must follow each Reset.
func resetDecoder(dec *msgpack.Decoder, b []byte) {
	dec.Reset(bytes.NewReader(b))
	dec.SetCustomStructTag("json")
	dec.UseLooseInterfaceDecoding(true)
}

// Decode implements Codec.
func (c MsgpackCodec) Decode(frame []byte) (Envelope, error) {
	env, err := c.decode(frame)
	return echoable(env, err)
}

func (c MsgpackCodec) decode(frame []byte) (Envelope, error) {
	var env Envelope
	if max := maxFrame(c.MaxFrameBytes); len(frame) > max {
		return env, ErrFrameTooLarge(len(frame), max)
	}
	// Walk the frame's structure before the library decodes it: this bounds
	// every declared length by the bytes really present (the library would
	// preallocate up to a million map entries for a 5-byte frame) and the
	// nesting depth, and it finds truncation and trailing bytes.
	if err := checkMsgpack(frame); err != nil {
		return env, &Error{Code: CodeBadFrame, Message: "malformed msgpack: " + err.Error(), err: err}
	}
	if frame[0]&0xf0 != 0x80 && frame[0] != 0xde && frame[0] != 0xdf {
		return env, &Error{Code: CodeBadFrame, Message: "frame is not a msgpack map"}
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	body, ok := fastEnvelope(frame, &env)
	if !ok {
		env = Envelope{}
		var err error
		if body, err = slowEnvelope(dec, frame, &env); err != nil {
			return env, err
		}
	}
	if err := checkType(env.Type); err != nil {
		return env, err
	}
	msg := NewMessage(env.Type)
	if len(body) > 0 && body[0] != 0xc0 { // 0xc0: nil
		if body[0]&0xf0 != 0x80 && body[0] != 0xde && body[0] != 0xdf {
			return env, fieldError("body", "not a map")
		}
		// The hot messages have hand-written decoders (msgpack_fast*.go),
		// which leave msg zero for reflection where they decline.
		if !decodeBodyMsgpack(body, msg) {
			resetDecoder(dec, body)
			if err := dec.Decode(msg); err != nil {
				return env, msgpackFieldError(dec, body, env.Type, err)
			}
		}
	}
	env.Body = msg
	return env, finish(&env, c.From)
}

// slowEnvelope reads frame's envelope fields into env with the library,
// naming the first bad field, and returns the raw body.
func slowEnvelope(dec *msgpack.Decoder, frame []byte, env *Envelope) (msgpack.RawMessage, error) {
	resetDecoder(dec, frame)
	n, err := dec.DecodeMapLen()
	if err != nil {
		return nil, &Error{Code: CodeBadFrame, Message: "frame is not a msgpack map", err: err}
	}
	var body msgpack.RawMessage
	var ferr error // the first field error; reading goes on to find the id
	for i := 0; i < n; i++ {
		key, err := dec.DecodeString()
		if err != nil {
			return nil, &Error{Code: CodeBadFrame, Message: "envelope key is not a string", err: err}
		}
		var field error
		switch key {
		case "type":
			env.Type, field = decodeString(dec)
		case "id":
			env.ID, field = decodeString(dec)
		case "npc":
			env.NPC, field = decodeString(dec)
		case "seq":
			env.Seq, field = decodeSeq(dec)
		case "body":
			body, field = dec.DecodeRaw()
		default:
			field = dec.Skip() // unknown keys are ignored, for forward compatibility
		}
		if field != nil && ferr == nil {
			ferr = &Error{Code: CodeBadField, Field: key, Message: key + ": " + field.Error(), err: field}
		}
	}
	return body, ferr
}

// msgpackFieldError names the mistyped field of a body that failed to
// decode. The msgpack library does not say which field it was decoding, so
// this slow path, taken only on error, decodes the body loosely, re-encodes
// it as JSON and lets encoding/json find the field. When that fails too (a
// NaN, say), the error names only "body".
func msgpackFieldError(dec *msgpack.Decoder, body []byte, typ string, cause error) error {
	generic := &Error{Code: CodeBadField, Field: "body", Message: "body: " + cause.Error(), err: cause}
	resetDecoder(dec, body)
	loose, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return generic
	}
	js, err := json.Marshal(loose)
	if err != nil {
		return generic
	}
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(js, NewMessage(typ)); errors.As(err, &te) && te.Field != "" {
		return &Error{Code: CodeBadField, Field: "body." + te.Field, err: cause,
			Message: fmt.Sprintf("body.%s: a msgpack %s cannot be a %s", te.Field, te.Value, te.Type)}
	}
	return generic
}

// decodeString reads a string or nil; any other value is skipped and
// reported, so that reading can go on to the remaining envelope keys.
func decodeString(dec *msgpack.Decoder) (string, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return "", err
	}
	if c&0xe0 == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb || c == 0xc0 {
		return dec.DecodeString()
	}
	if err := dec.Skip(); err != nil {
		return "", err
	}
	return "", errors.New("not a string")
}

// decodeSeq reads a non-negative integer, skipping and reporting anything else.
func decodeSeq(dec *msgpack.Decoder) (uint64, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, err
	}
	if c <= 0x7f || c >= 0xcc && c <= 0xd3 || c >= 0xe0 {
		v, err := dec.DecodeInterfaceLoose()
		if err != nil {
			return 0, err
		}
		switch v := v.(type) {
		case uint64:
			return v, nil
		case int64:
			if v >= 0 {
				return uint64(v), nil
			}
		}
		return 0, errors.New("negative")
	}
	if err := dec.Skip(); err != nil {
		return 0, err
	}
	return 0, errors.New("not an integer")
}

// DecodeMsgpack decodes an Args map so that numbers are float64 and nested
// maps map[string]any, exactly as encoding/json decodes the same values.
func (a *Args) DecodeMsgpack(dec *msgpack.Decoder) error {
	m, err := dec.DecodeMap()
	if err != nil {
		return err
	}
	for k, v := range m {
		m[k] = normalize(v)
	}
	*a = m
	return nil
}

// normalize converts loosely decoded msgpack values to the types
// encoding/json produces; other types are left for Validate to refuse.
func normalize(v any) any {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	}
	return v
}

// maxMsgpackDepth bounds nesting in a frame: envelope, body, perception
// lists and Args of MaxArgsDepth need far fewer levels.
const maxMsgpackDepth = 16

var errTruncated = errors.New("truncated")

// checkMsgpack checks that b holds exactly one well-formed msgpack value
// whose containers declare no more elements than there are bytes left, nested
// at most maxMsgpackDepth deep, and using no ext types (v1 has none).
func checkMsgpack(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty frame")
	}
	rest, err := skipMsgpack(b, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the value", len(rest))
	}
	return nil
}

// skipMsgpack returns b after its first value.
func skipMsgpack(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return nil, errTruncated
	}
	c := b[0]
	b = b[1:]
	var n uint64  // payload bytes, or elements of a container
	var elems int // 0 for scalars, 1 for arrays, 2 for maps (values per element)
	switch {
	case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		return b, nil
	case c&0xf0 == 0x80: // fixmap
		n, elems = uint64(c&0x0f), 2
	case c&0xf0 == 0x90: // fixarray
		n, elems = uint64(c&0x0f), 1
	case c&0xe0 == 0xa0: // fixstr
		n = uint64(c & 0x1f)
	default:
		switch c {
		case 0xc0, 0xc2, 0xc3: // nil, false, true
			return b, nil
		case 0xcc, 0xd0:
			n = 1
		case 0xcd, 0xd1:
			n = 2
		case 0xca, 0xce, 0xd2:
			n = 4
		case 0xcb, 0xcf, 0xd3:
			n = 8
		case 0xc4, 0xd9: // bin8, str8
			if n, b = readLen(b, 1); b == nil {
				return nil, errTruncated
			}
		case 0xc5, 0xda: // bin16, str16
			if n, b = readLen(b, 2); b == nil {
				return nil, errTruncated
			}
		case 0xc6, 0xdb: // bin32, str32
			if n, b = readLen(b, 4); b == nil {
				return nil, errTruncated
			}
		case 0xdc:
			n, b = readLen(b, 2)
			elems = 1
		case 0xdd:
			n, b = readLen(b, 4)
			elems = 1
		case 0xde:
			n, b = readLen(b, 2)
			elems = 2
		case 0xdf:
			n, b = readLen(b, 4)
			elems = 2
		case 0xc1:
			return nil, errors.New("byte 0xc1 is never used in msgpack")
		default: // 0xc7-0xc9, 0xd4-0xd8: ext types
			return nil, fmt.Errorf("ext type 0x%02x is not used by the protocol", c)
		}
		if b == nil {
			return nil, errTruncated
		}
	}
	if elems == 0 {
		if uint64(len(b)) < n {
			return nil, errTruncated
		}
		return b[n:], nil
	}
	// Every element takes at least one byte.
	if n*uint64(elems) > uint64(len(b)) {
		return nil, fmt.Errorf("container declares %d elements but %d bytes remain", n, len(b))
	}
	if depth >= maxMsgpackDepth {
		return nil, fmt.Errorf("nested more than %d deep", maxMsgpackDepth)
	}
	var err error
	for i := uint64(0); i < n*uint64(elems); i++ {
		if b, err = skipMsgpack(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readLen reads a big-endian length of size bytes; it returns nil b if too
// few bytes remain.
func readLen(b []byte, size int) (uint64, []byte) {
	if len(b) < size {
		return 0, nil
	}
	var n uint64
	for _, x := range b[:size] {
		n = n<<8 | uint64(x)
	}
	return n, b[size:]
}
