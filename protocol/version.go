package protocol

import "fmt"

// Version is the protocol version this package implements.
const Version = 1

// Subprotocol names, as offered in the Sec-WebSocket-Protocol header.
const (
	SubprotocolMsgpack = "anima.v1.msgpack" // binary frames; the default
	SubprotocolJSON    = "anima.v1.json"    // text frames
)

// Subprotocols returns the subprotocols a server offers, preferred first.
func Subprotocols() []string { return []string{SubprotocolMsgpack, SubprotocolJSON} }

// Negotiate picks the highest version in offered that this package speaks,
// or returns an unsupported_version *Error.
func Negotiate(offered []int) (int, error) {
	best := 0
	for _, v := range offered {
		if v == Version && v > best {
			best = v
		}
	}
	if best == 0 {
		return 0, Errorf(CodeUnsupportedVersion, "offered versions %v; this server speaks %d", offered, Version)
	}
	return best, nil
}

// ErrFrameTooLarge returns the too_large error for a frame of n bytes.
func ErrFrameTooLarge(n, max int) *Error {
	return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("frame of %d bytes exceeds the limit of %d", n, max)}
}
