package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSchedulerScripts runs testdata/scheduler*.txt against a real Engine
// on the reference model whose scheduler goroutine the script holds at the
// top of each iteration: requests queue while it is held, and each step
// command lets it run one iteration (admit, end what was cancelled or is
// past its deadline, one model step, sample) and prints what it did.
//
// Commands:
//
//	engine maxseqs=N urgent=N queue=N batch=N outranked=N store=N  a new Engine (store: bytes of the prefix store, -1 none)
//	submit r=NAME npc=P line=L prio=N max=N deadline=D  Generate in the background; prints its place in the queue, or its error
//	step n=N                 let the scheduler run N iterations (default 1), or until it idles
//	run                      iterations until it idles
//	cancel r=NAME            cancel NAME's context
//	sleep d=D                wait D
//	wait r=NAME              NAME's Result, once Generate returns
//	slots                    each slot's sequence or cached tokens
//	stats                    the engine's CacheStats
//
// Prompts are the test's segments: a system turn with the lore, persona
// P (mira, brannoc), and player line L (bridge, knife, wolves, hello).
func TestSchedulerScripts(t *testing.T) {
	fx := loadFixture(t)
	runScripts(t, "testdata/scheduler*.txt", func(t *testing.T) func(*scriptCase) (string, error) {
		m := &schedMachine{t: t, fx: fx, reqs: map[string]*schedReq{}}
		t.Cleanup(m.close)
		return m.run
	})
}

var (
	scriptPersonas = map[string]string{
		"mira":    "You are Mira, the baker's daughter, wary of strangers.\n",
		"brannoc": "You are Brannoc, the smith, gruff but fair with anyone who pays.\n",
	}
	scriptLines = map[string]string{
		"bridge": "Is the bridge safe?",
		"knife":  "Where can I buy a knife?",
		"wolves": "Wolves! At the gate!",
		"hello":  "Hello.",
	}
)

func scriptPrompt(npc, line string) ([]Segment, error) {
	p, ok := scriptPersonas[npc]
	if !ok {
		return nil, fmt.Errorf("unknown npc %q", npc)
	}
	l, ok := scriptLines[line]
	if !ok {
		return nil, fmt.Errorf("unknown line %q", line)
	}
	return []Segment{
		{Text: "<|im_start|>system\n", Special: true},
		{Text: lore},
		{Text: p},
		{Text: "<|im_end|>\n<|im_start|>user\n", Special: true},
		{Text: l},
		{Text: "<|im_end|>\n<|im_start|>assistant\n", Special: true},
	}, nil
}

// schedMachine drives an Engine whose hooks hand control back and forth:
// the scheduler goroutine sends on arrive at the top of each iteration
// ("step") and before it waits for requests ("idle"), and a step command
// answers with proceed. Between an arrival and the next proceed the
// scheduler is stopped, so the machine may read its slots and the log its
// hooks wrote; the channel operations order those reads after the writes.
type schedMachine struct {
	t       *testing.T
	fx      *fixture
	e       *Engine
	arrive  chan string
	proceed chan struct{}
	quit    chan struct{} // closed at the end: the hooks stop holding the scheduler
	idle    bool          // the last arrival was "idle": the scheduler waits for a request
	log     []string      // what the hooks saw since the last command; the scheduler's while it runs
	reqs    map[string]*schedReq
}

// schedReq is one submitted request: its Generate runs on a goroutine of
// its own until the request ends.
type schedReq struct {
	name     string
	cancel   context.CancelFunc
	done     chan struct{} // closed when Generate has returned res and err
	res      Result
	err      error
	admitted bool // the scheduler took it from the queue; written by the scheduler
}

type nameKey struct{}

func jobName(j *job) string {
	if n, ok := j.ctx.Value(nameKey{}).(string); ok {
		return n
	}
	return "?"
}

func (m *schedMachine) close() {
	if m.e == nil {
		return
	}
	for _, r := range m.reqs {
		r.cancel()
	}
	close(m.quit)
	m.e.Close()
	for _, r := range m.reqs {
		<-r.done
	}
	m.e = nil
}

// hold is the beforeStep hook: it reports the arrival and waits for the
// next step command.
func (m *schedMachine) hold() {
	select {
	case m.arrive <- "step":
	case <-m.quit:
		return
	}
	select {
	case <-m.proceed:
	case <-m.quit:
	}
}

func (m *schedMachine) start(c *scriptCase) error {
	m.close()
	var opt Options
	var err error
	for _, f := range []struct {
		k string
		p *int
	}{{"maxseqs", &opt.MaxSeqs}, {"urgent", &opt.UrgentSeqs}, {"queue", &opt.QueueSize}, {"batch", &opt.Batch}, {"outranked", &opt.OutrankedBatch}} {
		if *f.p, err = intArg(c, f.k, 0); err != nil {
			return err
		}
	}
	store, err := intArg(c, "store", 0)
	if err != nil {
		return err
	}
	opt.StoreBytes = int64(store)
	m.arrive, m.proceed, m.quit = make(chan string), make(chan struct{}), make(chan struct{})
	m.reqs, m.log = map[string]*schedReq{}, nil
	opt.Context = 1024
	// Not fx.engineHooks: its cleanup would Close the engine while the
	// hooks still hold the scheduler; m.close releases them first.
	m.e, err = newEngine(m.fx.m, m.fx.tok, opt, hooks{
		beforeStep: m.hold,
		onIdle: func() {
			select {
			case m.arrive <- "idle":
			case <-m.quit:
			}
		},
		onStart: func(j *job) {
			if r, ok := m.reqs[jobName(j)]; ok {
				r.admitted = true
			}
			m.log = append(m.log, fmt.Sprintf("admit %s (priority %d)", jobName(j), j.req.Priority))
		},
		onStep: func(int, int) {
			var parts []string
			for i, s := range m.e.inStep {
				kind := "decode"
				if s.seq.prefill {
					kind = "prefill"
				}
				parts = append(parts, fmt.Sprintf("%s %s %d", jobName(s.seq.j), kind, len(m.e.chunks[i].Tokens)))
			}
			m.log = append(m.log, "step: "+strings.Join(parts, ", "))
		},
		onEnd: func(j *job, res Result) {
			m.log = append(m.log, fmt.Sprintf("end %s: %s, %d generated", jobName(j), res.Stats.Finish, res.Stats.GeneratedTokens))
		},
	})
	if err != nil {
		return err
	}
	m.idle = <-m.arrive == "idle"
	return nil
}

// step lets the scheduler run one iteration, unless it is waiting for a
// request.
func (m *schedMachine) step() bool {
	if m.idle {
		return false
	}
	m.proceed <- struct{}{}
	m.idle = <-m.arrive == "idle"
	return true
}

// flush returns the log, runs of equal lines folded into one with a count.
func (m *schedMachine) flush(b *strings.Builder) {
	for i := 0; i < len(m.log); {
		j := i + 1
		for j < len(m.log) && m.log[j] == m.log[i] {
			j++
		}
		b.WriteString(m.log[i])
		if j-i > 1 {
			fmt.Fprintf(b, " (×%d)", j-i)
		}
		b.WriteString("\n")
		i = j
	}
	m.log = m.log[:0]
}

func (m *schedMachine) req(c *scriptCase) (*schedReq, error) {
	r, ok := m.reqs[c.Args["r"]]
	if !ok {
		return nil, fmt.Errorf("no request %q", c.Args["r"])
	}
	return r, nil
}

func describe(r *schedReq) string {
	s := r.res.Stats
	out := fmt.Sprintf("%s: %s, %d prompt tokens, %d reused, %d generated", r.name, s.Finish, s.PromptTokens, s.ReusedTokens, s.GeneratedTokens)
	if r.err != nil {
		out += fmt.Sprintf("; error: %v", r.err)
	}
	return out
}

func (m *schedMachine) run(c *scriptCase) (string, error) {
	if c.Cmd != "engine" && m.e == nil {
		return "", fmt.Errorf("%s before engine", c.Cmd)
	}
	var b strings.Builder
	switch c.Cmd {
	case "engine":
		if err := m.start(c); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d slots (%d urgent), queue of %d", m.e.opt.MaxSeqs+m.e.opt.UrgentSeqs, m.e.opt.UrgentSeqs, m.e.opt.QueueSize)
	case "submit":
		name := c.Args["r"]
		if _, dup := m.reqs[name]; dup || name == "" {
			return "", fmt.Errorf("request name %q: want a new one", name)
		}
		segs, err := scriptPrompt(c.Args["npc"], c.Args["line"])
		if err != nil {
			return "", err
		}
		req := Request{Segments: segs}
		if req.Priority, err = intArg(c, "prio", 0); err != nil {
			return "", err
		}
		if req.MaxTokens, err = intArg(c, "max", 4); err != nil {
			return "", err
		}
		if d, ok := c.Args["deadline"]; ok {
			dur, err := time.ParseDuration(d)
			if err != nil {
				return "", err
			}
			req.Deadline = time.Now().Add(dur)
		}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), nameKey{}, name))
		r := &schedReq{name: name, cancel: cancel, done: make(chan struct{})}
		m.reqs[name] = r
		before := m.e.Queued()
		// Exits when the request ends: the script steps it to its end,
		// or close cancels it.
		go func() {
			defer close(r.done)
			r.res, r.err = m.e.Generate(ctx, req, nil)
		}()
		for m.e.Queued() == before {
			select {
			case <-r.done:
				if r.err != nil {
					delete(m.reqs, name)
					fmt.Fprintf(&b, "%s: error: %v", name, r.err)
				} else { // its deadline passed at once
					b.WriteString(describe(r))
				}
				return b.String(), nil
			case <-time.After(time.Millisecond):
			}
		}
		if m.idle { // the push woke the scheduler, which stops at the top of its loop
			m.idle = <-m.arrive == "idle"
		}
		fmt.Fprintf(&b, "%s waiting: %d in the queue", name, m.e.Queued())
	case "step", "run":
		n, err := intArg(c, "n", 1)
		if err != nil {
			return "", err
		}
		if c.Cmd == "run" {
			n = 1000
		}
		i := 0
		for ; i < n && m.step(); i++ {
		}
		if c.Cmd == "run" && i == n {
			return "", fmt.Errorf("still running after %d iterations", n)
		}
		m.flush(&b)
		if m.idle {
			b.WriteString("idle")
		}
	case "cancel":
		r, err := m.req(c)
		if err != nil {
			return "", err
		}
		r.cancel()
		if r.admitted {
			fmt.Fprintf(&b, "%s: cancelled while it runs: it ends at the next step", r.name)
			break
		}
		<-r.done // a waiting request leaves the queue at once
		fmt.Fprintf(&b, "%s; %d in the queue", describe(r), m.e.Queued())
	case "sleep":
		d, err := time.ParseDuration(c.Args["d"])
		if err != nil {
			return "", err
		}
		time.Sleep(d)
	case "wait":
		r, err := m.req(c)
		if err != nil {
			return "", err
		}
		<-r.done
		b.WriteString(describe(r))
	case "queue":
		fmt.Fprintf(&b, "%d waiting", m.e.Queued())
	case "slots":
		for i, s := range m.e.slots {
			if s.seq == nil {
				fmt.Fprintf(&b, "slot %d: idle, %d tokens cached\n", i, len(s.kv))
				continue
			}
			q := s.seq
			fmt.Fprintf(&b, "slot %d: %s, ", i, jobName(q.j))
			if q.prefill {
				fmt.Fprintf(&b, "prefill, %d of %d prompt tokens cached (%d reused)\n", len(s.kv), len(q.prompt), q.res.Stats.ReusedTokens)
			} else {
				fmt.Fprintf(&b, "decoding, %d generated (%d of %d prompt tokens reused)\n", q.res.Stats.GeneratedTokens, q.res.Stats.ReusedTokens, len(q.prompt))
			}
		}
	case "stats":
		s := m.e.CacheStats()
		fmt.Fprintf(&b, "%d requests, %d hits; %d of %d prompt tokens reused; %d slots; store %d of %d bytes, %d evictions",
			s.Requests, s.Hits, s.ReusedTokens, s.PromptTokens, s.Slots, s.StoreBytes, s.StoreBudget, s.StoreEvictions)
	default:
		return "", fmt.Errorf("unknown command %q", c.Cmd)
	}
	return b.String(), nil
}
