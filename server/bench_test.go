package server

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
)

// benchConfig is the default config, less the rate limit that would
// throttle a benchmark.
func benchConfig() Config {
	cfg := DefaultConfig()
	cfg.RatePerSecond, cfg.RateBurst = 1e9, 1e9
	return cfg
}

// BenchmarkRoundTrip measures ping → pong round trips over a real loopback
// websocket, client and server in this process: with one message in flight
// (latency-bound) and with 64 in flight (throughput-bound). msgs/s counts
// round trips per second; cpu-ns/msg is the process's CPU time (user +
// system, client and server together) per round trip, which other load on
// a shared machine disturbs far less than wall time.
func BenchmarkRoundTrip(b *testing.B) {
	for _, sub := range codecs {
		for _, inflight := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/inflight=%d", strings.TrimPrefix(sub, "anima.v1."), inflight), func(b *testing.B) {
				ts := startServer(b, benchConfig(), serverOpt{})
				c := dial(b, ts, sub, nil)
				c.hello(nil)
				ping, err := c.codec.Encode(protocol.NewEnvelope("p", "", &protocol.Ping{TimeMS: 1}))
				if err != nil {
					b.Fatal(err)
				}
				frame := c.codec.FrameType()
				window := make(chan struct{}, inflight)
				errc := make(chan error, 1)
				b.ReportAllocs()
				cpu0 := cpuTime()
				b.ResetTimer()
				// The sender exits after b.N pings, or at the first write error.
				go func() {
					for i := 0; i < b.N; i++ {
						window <- struct{}{}
						if err := c.ws.WriteMessage(frame, ping); err != nil {
							errc <- err
							return
						}
					}
					errc <- nil
				}()
				for i := 0; i < b.N; i++ {
					_, data, err := c.ws.ReadMessage()
					if err != nil {
						b.Fatalf("read pong %d: %v", i, err)
					}
					if env, err := c.codec.Decode(data); err != nil || env.Type != "pong" {
						b.Fatalf("pong %d: %s, %v", i, env.Type, err)
					}
					<-window
				}
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
				if drops := ts.counter(b, "anima_queue_drops_total", "type", "pong"); drops != 0 {
					b.Fatalf("%v pongs dropped; the window must stay under the queue size", drops)
				}
			})
		}
	}
}

// BenchmarkConversation measures player_say → decision, act, say deltas,
// final say through the stand-in host: the full routing path, one line in
// flight. msgs/s counts server messages received per second.
func BenchmarkConversation(b *testing.B) {
	ts := startServer(b, benchConfig(), serverOpt{})
	c := dial(b, ts, protocol.SubprotocolMsgpack, nil)
	c.hello(nil)
	c.spawn("n1")
	say, err := c.codec.Encode(protocol.NewEnvelope("q", "n1", &protocol.PlayerSay{Speaker: "p1", Text: "hello"}))
	if err != nil {
		b.Fatal(err)
	}
	msgs := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.sendRaw(websocket.BinaryMessage, say)
		for {
			env := c.recv()
			msgs++
			if s, ok := env.Body.(*protocol.Say); ok && s.Final {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "replies/s")
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

// idleClients is how many connections BenchmarkIdleConnection holds open.
const idleClients = 1000

// BenchmarkIdleConnection measures the server's memory per idle connection
// with a session (hello done, nothing in flight). The clients run in a child
// process (this test binary, as TestIdleClientsHelper), so only the
// server's memory is counted: Go heap in use plus goroutine stacks, after a
// collection ("bytes/conn"). (Resident set size is not reported: after the
// first iteration the process reuses pages it already holds, so its delta
// says nothing.) ns/op is the time to open and measure idleClients
// sessions, not a figure of interest.
func BenchmarkIdleConnection(b *testing.B) {
	var heap float64
	for i := 0; i < b.N; i++ {
		heap += idleConnectionCost(b)
	}
	b.ReportMetric(heap/float64(b.N), "bytes/conn")
}

// idleConnectionCost opens idleClients sessions and measures. Its time
// (mostly connection setup) is left on the clock, so that b.N stays small.
func idleConnectionCost(b *testing.B) (bytesPerConn float64) {
	ts := startServer(b, benchConfig(), serverOpt{})
	before := serverMemory()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$")
	cmd.Env = append(os.Environ(), "ANIMA_IDLE_URL="+ts.url, "ANIMA_IDLE_N="+strconv.Itoa(idleClients))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close() // the helper exits when its stdin closes
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		b.Fatalf("idle clients helper: %q, %v", line, err)
	}
	waitFor(b, "every session", func() bool { return ts.srv.SessionCount() == idleClients })
	return (serverMemory() - before) / idleClients
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverMemory returns this process's Go heap in use plus goroutine
// stacks, after a collection.
func serverMemory() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc + ms.StackInuse)
}

// TestIdleClientsHelper is BenchmarkIdleConnection's client process: it
// opens ANIMA_IDLE_N sessions to ANIMA_IDLE_URL, prints "ready", and holds
// them until its stdin closes. Run directly, it skips.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv("ANIMA_IDLE_URL")
	if url == "" {
		t.Skip("the client process of BenchmarkIdleConnection")
	}
	n, err := strconv.Atoi(os.Getenv("ANIMA_IDLE_N"))
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := protocol.MsgpackCodec{}.Encode(protocol.NewEnvelope("h", "", &protocol.Hello{Versions: []int{protocol.Version}}))
	conns := make([]*websocket.Conn, 0, n)
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{protocol.SubprotocolMsgpack}}
	for i := 0; i < n; i++ {
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if err := ws.WriteMessage(websocket.BinaryMessage, hello); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil { // welcome
			t.Fatal(err)
		}
		conns = append(conns, ws)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, ws := range conns {
		ws.Close()
	}
}
