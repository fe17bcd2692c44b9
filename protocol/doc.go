// Package protocol defines Anima's wire protocol, version 1: the messages that
// game servers and Anima exchange over a websocket at /v1/ws, their envelope,
// and two encodings of it, msgpack (binary frames, subprotocol
// "anima.v1.msgpack", the default) and JSON (text frames, "anima.v1.json").
//
// PROTOCOL.md at the repository root is the specification; this package is
// its Go rendering. Every decoder here treats its input as hostile: sizes are
// checked before anything is allocated, and every failure is a *Error whose
// Code is one of the codes of PROTOCOL.md, so a server can send it back as is.
//
// protocol imports nothing else of Anima's; package protocol/client is the Go
// client that game servers, tests, the demo and the load tool use.
package protocol
