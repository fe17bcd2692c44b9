package server

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// FuzzHandle feeds arbitrary frames to a connection's handler after a hello
// and a spawn, in either encoding, and checks the promise of the bad-input
// policy: no panic, every frame is either handled or answered with an error,
// and the connection still answers a ping afterwards.
func FuzzHandle(f *testing.F) {
	for _, sub := range codecs {
		codec, _ := protocol.NewCodec(sub, 0, 0)
		json := sub == protocol.SubprotocolJSON
		for _, env := range []protocol.Envelope{
			protocol.NewEnvelope("1", "n1", &protocol.PlayerSay{Speaker: "p", Text: "hello"}),
			protocol.NewEnvelope("2", "n1", &protocol.Perceive{Entities: []protocol.Entity{{ID: "p"}}}),
			protocol.NewEnvelope("3", "n2", &protocol.Spawn{Persona: "x"}),
			protocol.NewEnvelope("4", "n1", &protocol.Despawn{}),
			protocol.NewEnvelope("5", "n1", &protocol.ActionStatus{ActionID: "a2", Status: "success"}),
			protocol.NewEnvelope("6", "", &protocol.Hello{Versions: []int{1}}),
			protocol.NewEnvelope("7", "", &protocol.World{Lore: "lore"}),
			protocol.NewEnvelope("8", "n1", &protocol.Interrupt{}),
		} {
			frame, err := codec.Encode(env)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(json, frame)
		}
		f.Add(json, []byte{})
	}
	f.Fuzz(func(t *testing.T, json bool, frame []byte) {
		sub := protocol.SubprotocolMsgpack
		if json {
			sub = protocol.SubprotocolJSON
		}
		cfg := DefaultConfig()
		cfg.AbuseErrors = 100 // never reached by four frames: the connection has no socket to close
		host := NewStandIn(StandInOptions{})
		defer host.Close()
		srv, err := New(Options{Config: cfg, Host: host, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		codec, _ := protocol.NewCodec(sub, protocol.FromClient, int(srv.cfg.MaxMessageBytes))
		out, _ := protocol.NewCodec(sub, 0, 0)
		now := time.Now()
		c := &conn{srv: srv, codec: codec, log: srv.log, rlog: srv.log,
			q:      newOutQueue(1<<20, droppable),
			bucket: newTokenBucket(1e9, 1e9, now), errs: newErrorWindow(cfg.AbuseErrors, time.Minute)}
		for _, env := range []protocol.Envelope{
			protocol.NewEnvelope("h", "", &protocol.Hello{Versions: []int{1}}),
			protocol.NewEnvelope("s", "n1", &protocol.Spawn{Persona: "smith"}),
		} {
			data, _ := out.Encode(env)
			c.handle(codec.FrameType(), data)
		}
		before := c.q.len()
		c.handle(codec.FrameType(), frame)
		if _, err := codec.Decode(frame); err != nil && c.q.len() == before {
			t.Errorf("frame %q failed to decode (%v) but got no error message", short(string(frame)), err)
		}
		ping, _ := out.Encode(protocol.NewEnvelope("last", "", &protocol.Ping{}))
		c.handle(codec.FrameType(), ping)
		for _, env := range c.q.take(nil) {
			if _, err := out.Encode(env); err != nil {
				t.Errorf("server message %s does not encode: %v", env.Type, err)
			}
			if env.Type == "pong" && env.ID == "last" {
				return
			}
		}
		t.Errorf("no pong after frame %q", short(string(frame)))
	})
}
