// Package loadtest is the engine of `anima load`: it simulates game servers,
// each a real protocol client (package protocol/client) holding a small
// world of NPCs and players, against a real Anima server (PROTOCOL.md), and
// measures what a studio asks before adopting Anima — how fast NPCs answer
// a player, how fast acts round-trip, how many decisions and tokens per
// second, what errors and drops, and what memory, goroutines and CPU — as
// log-bucketed latency histograms (Hist) and a one-second series, reported
// as a terminal summary, one JSON object or a self-contained HTML page with
// SVG charts (Report).
//
// Run drives one scenario (Config) against a server URL, loopback only.
// StartLocal runs the server in this process; the caller picks its NPC
// host: anima load hands it NPC minds on the embedded model (package
// node), or the stand-in to measure the server alone.
//
// Each simulated connection has two goroutines: a world goroutine that
// steps the world every 50 ms and sends perceives, player lines and action
// statuses, and a reader that matches the server's replies to the lines
// and pings that caused them. A Recorder, shared by all, holds the
// histograms and counters under one mutex.
package loadtest
