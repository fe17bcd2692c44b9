package server

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
)

// TestBadInput sends every kind of malformed frame over a real connection,
// in both encodings, and checks that each gets an error with its code and
// request id, and that the connection and the session's NPC go on working.
func TestBadInput(t *testing.T) {
	big := strings.Repeat("x", 10<<10) // over MaxMessageBytes (8 KiB), under the read limit
	tests := []struct {
		name    string
		noHello bool              // send before hello
		msg     map[string]any    // encoded in the connection's format
		raw     map[string][]byte // by subprotocol; overrides msg
		frame   int               // frame type; 0 means the connection's own
		code    protocol.Code
		id      string // request id the error must echo
	}{
		{name: "bad encoding",
			raw:  map[string][]byte{protocol.SubprotocolMsgpack: {0xc1}, protocol.SubprotocolJSON: []byte(`{"type": "ping",`)},
			code: protocol.CodeBadFrame},
		{name: "not an envelope",
			raw:  map[string][]byte{protocol.SubprotocolMsgpack: {0x93, 1, 2, 3}, protocol.SubprotocolJSON: []byte(`[1,2,3]`)},
			code: protocol.CodeBadFrame},
		{name: "unknown type",
			msg:  map[string]any{"type": "dance", "id": "r1", "npc": "n1"},
			code: protocol.CodeUnknownType, id: "r1"},
		{name: "a type only the server sends",
			msg:  map[string]any{"type": "welcome", "id": "r2"},
			code: protocol.CodeUnknownType, id: "r2"},
		{name: "wrong field type",
			msg:  map[string]any{"type": "perceive", "id": "r3", "npc": "n1", "body": map[string]any{"self": "tall"}},
			code: protocol.CodeBadField, id: "r3"},
		{name: "wrong envelope field type",
			msg:  map[string]any{"type": "ping", "id": "r4", "seq": "seven"},
			code: protocol.CodeBadField, id: "r4"},
		{name: "missing required field",
			msg:  map[string]any{"type": "player_say", "id": "r5", "npc": "n1", "body": map[string]any{"speaker": "p1"}},
			code: protocol.CodeBadField, id: "r5"},
		{name: "oversized message",
			msg:  map[string]any{"type": "player_say", "id": "r6", "npc": "n1", "body": map[string]any{"speaker": "p1", "text": big}},
			code: protocol.CodeTooLarge},
		{name: "unknown npc",
			msg:  map[string]any{"type": "perceive", "id": "r7", "npc": "ghost", "body": map[string]any{"self": map[string]any{"position": map[string]any{"x": 1, "y": 2}}}},
			code: protocol.CodeUnknownNPC, id: "r7"},
		{name: "despawn of an unknown npc",
			msg:  map[string]any{"type": "despawn", "id": "r8", "npc": "ghost"},
			code: protocol.CodeUnknownNPC, id: "r8"},
		{name: "spawn of an existing npc",
			msg:  map[string]any{"type": "spawn", "id": "r9", "npc": "n1", "body": map[string]any{"persona": "smith"}},
			code: protocol.CodeNPCExists, id: "r9"},
		{name: "action status of an unknown action",
			msg:  map[string]any{"type": "action_status", "id": "r10", "npc": "n1", "body": map[string]any{"action_id": "nope", "status": "success"}},
			code: protocol.CodeUnknownAction, id: "r10"},
		{name: "second hello",
			msg:  map[string]any{"type": "hello", "id": "r11", "body": map[string]any{"versions": []int{1}}},
			code: protocol.CodeBadField, id: "r11"},
		{name: "frame of the other kind",
			raw:   map[string][]byte{protocol.SubprotocolMsgpack: []byte(`{"type":"ping"}`), protocol.SubprotocolJSON: {0x81, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g'}},
			frame: -1, code: protocol.CodeBadFrame},
		{name: "anything before hello", noHello: true,
			msg:  map[string]any{"type": "ping", "id": "r12"},
			code: protocol.CodeNotHello, id: "r12"},
		{name: "spawn before hello", noHello: true,
			msg:  map[string]any{"type": "spawn", "id": "r13", "npc": "n1", "body": map[string]any{"persona": "smith"}},
			code: protocol.CodeNotHello, id: "r13"},
		{name: "wrong version", noHello: true,
			msg:  map[string]any{"type": "hello", "id": "r14", "body": map[string]any{"versions": []int{99}}},
			code: protocol.CodeUnsupportedVersion, id: "r14"},
	}
	for _, sub := range codecs {
		ts := startServer(t, testConfig(), serverOpt{})
		for _, tt := range tests {
			t.Run(sub+"/"+tt.name, func(t *testing.T) {
				c := dial(t, ts, sub, nil)
				if !tt.noHello {
					c.hello(nil)
					c.spawn("n1")
				}
				if tt.raw != nil {
					frame := c.codec.FrameType()
					if tt.frame == -1 { // the other kind
						frame = websocket.TextMessage + websocket.BinaryMessage - frame
					}
					c.sendRaw(frame, tt.raw[sub])
				} else {
					c.sendMap(tt.msg)
				}
				env := c.recv()
				if got := errorCode(env); got != tt.code || env.ID != tt.id {
					t.Fatalf("bad frame answered with %s id=%q %+v; want error %s id=%q", env.Type, env.ID, env.Body, tt.code, tt.id)
				}
				if msg := env.Body.(*protocol.Error).Message; msg == "" {
					t.Errorf("error %s has no message", tt.code)
				}

				// The connection goes on.
				if tt.noHello {
					c.hello(nil)
					c.spawn("n1")
				}
				c.send(protocol.NewEnvelope("p", "", &protocol.Ping{TimeMS: 42}))
				if env := c.recvType("pong"); env.ID != "p" || env.Body.(*protocol.Pong).TimeMS != 42 {
					t.Errorf("ping after the bad frame answered with %+v; want pong id p time 42", env)
				}
				// And so does the NPC.
				c.send(protocol.NewEnvelope("say", "n1", &protocol.PlayerSay{Speaker: "p1", Text: "hello"}))
				for {
					env := c.recv()
					if s, ok := env.Body.(*protocol.Say); ok && s.Final {
						if env.NPC != "n1" || s.Text == "" {
							t.Errorf("final say = %+v npc %q; want text for n1", s, env.NPC)
						}
						break
					}
				}
			})
		}
	}
}

// TestAbuseCloses: a stream of bad frames closes the connection with 1008,
// after each has had its error.
func TestAbuseCloses(t *testing.T) {
	cfg := testConfig()
	cfg.AbuseErrors = 5
	ts := startServer(t, cfg, serverOpt{})
	c := dial(t, ts, protocol.SubprotocolJSON, nil)
	c.hello(nil)
	for i := 0; i < 5; i++ {
		c.sendRaw(websocket.TextMessage, []byte("garbage"))
	}
	for i := 0; i < 4; i++ {
		if env := c.recv(); errorCode(env) != protocol.CodeBadFrame {
			t.Fatalf("bad frame %d answered with %+v; want bad_frame", i, env)
		}
	}
	if code, reason := c.closeCode(); code != websocket.ClosePolicyViolation {
		t.Errorf("after 5 bad frames: close %d %q; want %d", code, reason, websocket.ClosePolicyViolation)
	}
	waitFor(t, "abuse to be counted", func() bool { return ts.counter(t, "anima_connections_closed_total", "reason", "abuse") == 1 })
}

// TestHugeFrameCloses: a frame over the read limit is not read; the
// connection closes with 1009.
func TestHugeFrameCloses(t *testing.T) {
	ts := startServer(t, testConfig(), serverOpt{})
	c := dial(t, ts, protocol.SubprotocolMsgpack, nil)
	c.hello(nil)
	c.sendRaw(websocket.BinaryMessage, make([]byte, 65<<10)) // over MaxFrameBytes (64 KiB)
	if code, _ := c.closeCode(); code != websocket.CloseMessageTooBig {
		t.Errorf("huge frame: close %d; want %d", code, websocket.CloseMessageTooBig)
	}
}

func TestErrorsAreCounted(t *testing.T) {
	ts := startServer(t, testConfig(), serverOpt{})
	c := dial(t, ts, protocol.SubprotocolJSON, nil)
	c.sendMap(map[string]any{"type": "ping"})
	c.recv()
	if got := ts.counter(t, "anima_errors_total", "code", "not_hello"); got != 1 {
		t.Errorf("anima_errors_total{code=not_hello} = %v; want 1", got)
	}
}
