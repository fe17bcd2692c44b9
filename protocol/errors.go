package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Code names a class of failure. Codes travel in error messages and are the
// stable part of an error: clients branch on them, never on the text.
type Code string

// The error codes of protocol v1; PROTOCOL.md says when each is sent.
const (
	// CodeBadFrame: the frame is not a well-formed msgpack or JSON value, or
	// its top level is not an envelope map.
	CodeBadFrame Code = "bad_frame"
	// CodeUnknownType: the envelope's type names no message, or one that
	// only the other side may send.
	CodeUnknownType Code = "unknown_type"
	// CodeBadField: a field has the wrong type, is missing though required,
	// or is out of bounds; Error.Field names it.
	CodeBadField Code = "bad_field"
	// CodeTooLarge: the frame is longer than the connection's maximum.
	CodeTooLarge Code = "too_large"
	// CodeNotHello: a message other than hello arrived before hello.
	CodeNotHello Code = "not_hello"
	// CodeUnsupportedVersion: hello offered no version the server speaks.
	CodeUnsupportedVersion Code = "unsupported_version"
	// CodeUnknownNPC: the envelope's npc is not spawned in this session.
	CodeUnknownNPC Code = "unknown_npc"
	// CodeNPCExists: spawn named an NPC id that is already spawned.
	CodeNPCExists Code = "npc_exists"
	// CodeUnknownAction: action_status named no action the NPC is running.
	CodeUnknownAction Code = "unknown_action"
	// CodeUnknownPersona: spawn named a persona or tree the server lacks.
	CodeUnknownPersona Code = "unknown_persona"
	// CodeQuota: the session already holds its maximum number of NPCs.
	CodeQuota Code = "quota"
	// CodeRateLimited: the connection sent messages faster than its limit;
	// the message was dropped.
	CodeRateLimited Code = "rate_limited"
	// CodeUnauthorized: no API key, or a wrong one.
	CodeUnauthorized Code = "unauthorized"
	// CodeOverloaded: the server cannot take the work now; retry later.
	CodeOverloaded Code = "overloaded"
	// CodeInternal: the server failed; the message was not handled.
	CodeInternal Code = "internal"
)

// codes lists every code, for validation of error messages and for docs.
var codes = map[Code]bool{
	CodeBadFrame: true, CodeUnknownType: true, CodeBadField: true,
	CodeTooLarge: true, CodeNotHello: true, CodeUnsupportedVersion: true,
	CodeUnknownNPC: true, CodeNPCExists: true, CodeUnknownAction: true,
	CodeUnknownPersona: true, CodeQuota: true, CodeRateLimited: true,
	CodeUnauthorized: true, CodeOverloaded: true, CodeInternal: true,
}

// KnownCode reports whether c is a code of protocol v1. Receivers must still
// accept unknown codes: later minor revisions may add some.
func KnownCode(c Code) bool { return codes[c] }

// Error is both the body of an "error" message and the Go error that
// decoders, validators and the client return, so a failure found anywhere can
// be sent or branched on without translation:
//
//	var perr *protocol.Error
//	if errors.As(err, &perr) && perr.Code == protocol.CodeUnknownNPC { ... }
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Field is the dotted path of the offending field ("body.entities.3.id")
	// for bad_field errors, when known.
	Field string `json:"field,omitempty"`

	err error // the cause, for errors.Is/As; never sent
}

// Errorf returns an *Error with the given code and a formatted message, cut
// to MaxTextBytes of valid UTF-8 so that it can always be sent.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: sendable(fmt.Sprintf(format, args...), MaxTextBytes)}
}

// fieldError returns a bad_field error for the named field.
func fieldError(field, format string, args ...any) *Error {
	field = sendable(field, MaxNameBytes)
	return &Error{Code: CodeBadField, Field: field, Message: sendable(field+": "+fmt.Sprintf(format, args...), MaxTextBytes)}
}

// sendable returns s as valid UTF-8 of at most max bytes, cut at a rune
// boundary with "..." when too long.
func sendable(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	s = s[:max-3]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// Error implements error.
func (e *Error) Error() string { return "protocol: " + string(e.Code) + ": " + e.Message }

// Unwrap returns the underlying cause, if any (a json or msgpack error).
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is(err, &Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && t.Field == ""
}
