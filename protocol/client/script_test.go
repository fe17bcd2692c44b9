package client_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
)

// scriptServer is a websocket server on a loopback port that answers hello
// with welcome and then sends a fixed list of frames, to drive the client
// through cases a well-behaved server never produces (duplicates, garbage)
// or produces only under timing (a full event buffer). It speaks msgpack.
func scriptServer(t *testing.T, frames [][]byte) string {
	t.Helper()
	codec := protocol.MsgpackCodec{}
	up := websocket.Upgrader{Subprotocols: protocol.Subprotocols()}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		hello, err := codec.Decode(data)
		if err != nil {
			t.Errorf("script server: hello: %v", err)
			return
		}
		welcome, _ := codec.Encode(protocol.NewEnvelope(hello.ID, "", &protocol.Welcome{
			SessionID: "s1", ResumeToken: "t1", Version: 1}))
		ws.WriteMessage(websocket.BinaryMessage, welcome)
		for _, f := range frames {
			if err := ws.WriteMessage(websocket.BinaryMessage, f); err != nil {
				return
			}
		}
		// Stay until the client goes.
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

func frame(t *testing.T, seq uint64, m protocol.Message) []byte {
	t.Helper()
	env := protocol.NewEnvelope("", "n1", m)
	env.Seq = seq
	b, err := protocol.MsgpackCodec{}.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func delta(id, text string) *protocol.Say { return &protocol.Say{UtteranceID: id, Delta: text} }

// TestDuplicatesAndBadFramesDropped: replayed seqs the client has already
// seen, and frames that do not decode, never reach Events.
func TestDuplicatesAndBadFramesDropped(t *testing.T) {
	url := scriptServer(t, [][]byte{
		frame(t, 1, delta("u1", "a")),
		frame(t, 2, delta("u1", "b")),
		frame(t, 2, delta("u1", "b")), // duplicate
		{0xc1},                        // not msgpack
		frame(t, 1, delta("u1", "a")), // duplicate, older
		frame(t, 3, &protocol.Say{UtteranceID: "u1", Final: true, Text: "ab"}),
	})
	c := dial(t, url, client.Options{NoReconnect: true})
	got := until(t, c, finalSay)
	var seqs []uint64
	for _, env := range got {
		seqs = append(seqs, env.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 3 {
		t.Errorf("seqs on Events = %v; want [1 2 3]", seqs)
	}
	if s := c.Stats(); s.Duplicates != 2 || s.BadFrames != 1 {
		t.Errorf("Stats() = %+v; want 2 duplicates, 1 bad frame", s)
	}
}

// TestFullEventsDropPolicy: with Events full, say deltas, decisions and
// tree paths are dropped and counted; a final say, an act and an error wait for room.
func TestFullEventsDropPolicy(t *testing.T) {
	url := scriptServer(t, [][]byte{
		frame(t, 1, delta("u1", "one ")),                         // fills the buffer of 1
		frame(t, 2, delta("u1", "two ")),                         // dropped
		frame(t, 3, &protocol.Decision{Emotion: "calm"}),         // dropped
		frame(t, 0, &protocol.TreePath{Path: []string{"Wait"}}),  // dropped (not sequenced)
		frame(t, 4, &protocol.Act{ActionID: "a1", Name: "idle"}), // waits
		frame(t, 5, delta("u1", "three")),                        // dropped or kept, depending on the reader's pace
		frame(t, 6, &protocol.Say{UtteranceID: "u1", Final: true, Text: "one two three"}),
	})
	c := dial(t, url, client.Options{NoReconnect: true, EventBuffer: 1})
	// Let the reader fill the buffer and block on the act.
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Dropped < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := until(t, c, finalSay)
	var types []string
	for _, env := range got {
		types = append(types, env.Type)
	}
	if got[0].Seq != 1 || got[1].Type != "act" || !finalSay(got[len(got)-1]) {
		t.Errorf("events = %v; want the first delta, the act, ..., the final say", types)
	}
	for _, env := range got {
		if env.Type == "decision" || env.Type == "tree_path" || env.Seq == 2 {
			t.Errorf("event %s seq %d reached a full buffer; want it dropped", env.Type, env.Seq)
		}
	}
	if s := c.Stats(); s.Dropped < 3 {
		t.Errorf("Stats().Dropped = %d; want at least 3", s.Dropped)
	}
}
