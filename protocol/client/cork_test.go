package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
)

// TestBatchedWritesArriveWholeAndInOrder sends frames far faster than one
// syscall each would carry them, while the server pings every millisecond
// so that the reader writes pongs in the middle of the batches: every
// frame must arrive once, whole and in order.
func TestBatchedWritesArriveWholeAndInOrder(t *testing.T) {
	const n = 5000
	codec := protocol.MsgpackCodec{}
	got := make(chan []string, 1)
	up := websocket.Upgrader{Subprotocols: []string{protocol.SubprotocolMsgpack}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer ws.Close()
		if _, _, err := ws.ReadMessage(); err != nil { // hello
			t.Error(err)
			return
		}
		welcome, _ := codec.Encode(protocol.NewEnvelope("w", "", &protocol.Welcome{SessionID: "s", ResumeToken: "r", Version: protocol.Version,
			Limits: protocol.Limits{PingIntervalMS: 60_000}}))
		ws.WriteMessage(websocket.BinaryMessage, welcome)
		stop := make(chan struct{})
		defer close(stop)
		// Exits with the handler.
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
				}
			}
		}()
		var seen []string
		for len(seen) < n {
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Errorf("after %d frames: %v", len(seen), err)
				break
			}
			env, err := codec.Decode(data)
			if err != nil {
				t.Errorf("frame %d: %v", len(seen), err)
				break
			}
			seen = append(seen, env.Body.(*protocol.Perceive).Time)
		}
		got <- seen
	}))
	defer srv.Close()

	c, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), Options{SendBuffer: n, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		if err := c.Perceive(context.Background(), "npc", &protocol.Perceive{Time: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := <-got
	for i, s := range seen {
		if s != fmt.Sprint(i) {
			t.Fatalf("frame %d carried %q: frames were lost, repeated or reordered", i, s)
		}
	}
	if len(seen) != n {
		t.Fatalf("server read %d frames; want %d", len(seen), n)
	}
}
