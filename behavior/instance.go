package behavior

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Status is what a node returns from a tick, as in BehaviorTree.CPP.
type Status uint8

const (
	Idle    Status = iota // not started, or reset
	Running               // in progress: tick again
	Success
	Failure
	Skipped // a precondition skipped it; parents pass over it
)

var statusNames = [...]string{"IDLE", "RUNNING", "SUCCESS", "FAILURE", "SKIPPED"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Arg is one argument of an act, resolved from a port.
type Arg struct {
	Name  string
	Value Value
}

// Actuator receives the game actions a tree starts and stops. Its methods
// are called while the Instance is locked, from whichever goroutine ticks
// it (a scheduler worker): they must be safe for concurrent use across
// instances, must not block, and must not call back into the Instance
// (queue the message and return). args is valid only during the call.
type Actuator interface {
	// Act asks the game to perform action name with args; the game answers
	// with Instance.Resolve(id, ...). ids are unique per Instance.
	Act(npc string, id uint64, name string, args []Arg)
	// Cancel tells the game that action id is no longer wanted.
	Cancel(npc string, id uint64, reason string)
}

// Thinker is the npc layer's side of the Think leaf: Think asks for a
// decision and returns at once. The decision arrives later through
// Instance.Set (goal, target, item, emotion, say); ticking never waits for it.
// The same rules as for Actuator apply.
type Thinker interface {
	Think(npc string, reason string)
}

// TraceStep is one node ticked during the last tick, in the order ticks
// began (depth first), with the status it returned.
type TraceStep struct {
	Node   int32
	Status Status
}

// Instance is one NPC's run of a Tree: its blackboard and the state of each
// node. It is small (a byte per node, a few words per stateful node, one
// Value per blackboard key) and allocates nothing per tick.
type Instance struct {
	// mu guards every field below: Tick, Resolve, Set, Get, Halt and the
	// trace accessors take it, so the game's replies and the npc layer's
	// decisions may arrive from any goroutine while a worker ticks.
	mu      sync.Mutex
	tree    *Tree
	npc     string
	act     Actuator
	think   Thinker
	status  []Status // by node
	aux     []int64  // per-node state words, at node.aux
	bb      []Value  // the blackboard, by slot
	now     int64    // the current tick's time, Unix ns
	nextID  uint64   // the last act id issued
	args    []Arg    // scratch for Act, cap tree.maxArgs
	fail    failure  // the last failure with a reason
	tracing bool
	trace   []TraceStep
	cycles  int // Repeat and Retry cycles run this tick

	// watch, if set, hears of each change of the active path (WatchActive);
	// active is the path it last heard (nil: none yet), scratch the next.
	watch           func(active []int)
	active, scratch []int

	// bucket and pos place the Instance in a Scheduler; guarded by that
	// Scheduler's mu. bucket is -1 when not scheduled.
	bucket, pos int
}

// NewInstance starts a run of t for the NPC npc. act receives its game
// actions and think its requests for decisions; either may be nil (acts
// then go nowhere and never resolve; Think fails).
func NewInstance(t *Tree, npc string, act Actuator, think Thinker) *Instance {
	in := &Instance{
		tree:   t,
		npc:    npc,
		act:    act,
		think:  think,
		status: make([]Status, len(t.nodes)),
		aux:    make([]int64, t.auxLen),
		bb:     make([]Value, len(t.slots)),
		args:   make([]Arg, 0, t.maxArgs),
		bucket: -1,
	}
	for i, s := range t.slots {
		in.bb[i] = s.init
	}
	return in
}

// Tree returns the tree the instance runs.
func (in *Instance) Tree() *Tree { return in.tree }

// NPC returns the id the instance was created with.
func (in *Instance) NPC() string { return in.npc }

// Tick runs the tree once at time now and returns the root's status. A tree
// that finished (Success or Failure) on the previous tick starts over, so an
// NPC's tree runs for as long as the NPC lives.
func (in *Instance) Tick(now time.Time) Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.now = now.UnixNano()
	in.cycles = 0
	if st := in.status[0]; st == Success || st == Failure {
		in.halt(0, "restart")
	}
	if in.tracing {
		in.trace = in.trace[:0]
	}
	s := in.tick(0)
	if in.watch != nil {
		in.checkActive()
	}
	return s
}

// Halt stops the tree: every running action is cancelled with reason, and
// every node is reset. The next Tick starts from the beginning.
func (in *Instance) Halt(reason string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.halt(0, reason)
	if in.watch != nil {
		in.checkActive()
	}
}

// Resolve reports the game's action_status for act id: success or failure.
// The leaf that sent it returns that status on its next tick. It reports
// false for an id that is not running (finished, cancelled, or unknown), which
// callers may ignore: a late reply to a cancelled act is normal.
func (in *Instance) Resolve(id uint64, success bool) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if id == 0 {
		return false
	}
	for _, a := range in.tree.acts {
		n := &in.tree.nodes[a]
		if uint64(in.aux[n.aux]) == id && in.status[a] == Running && in.aux[n.aux+1] == actPending {
			in.aux[n.aux+1] = actFailed
			if success {
				in.aux[n.aux+1] = actSucceeded
			}
			return true
		}
	}
	return false
}

// The states of a game action between act and action_status.
const (
	actPending   = 0
	actSucceeded = 1
	actFailed    = 2
)

// ErrUnknownKey is returned by Set and Get for a key the tree's root
// blackboard does not have.
var ErrUnknownKey = errors.New("behavior: set: no root blackboard key")

// Set writes a root blackboard entry (a decision's goal, target, item,
// emotion or say, or any key the tree names at its root). Entries are typed:
// once set, an entry keeps its kind, and a value that cannot be converted to
// it is an error. A key the tree never names is refused with ErrUnknownKey:
// nothing could read it (a spawn's initial blackboard may carry such keys;
// callers may ignore that error).
func (in *Instance) Set(key string, v Value) error {
	i, ok := in.tree.rootKeys[key]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	cur := in.bb[i]
	if cur.kind != KindNone && v.kind != KindNone && cur.kind != v.kind {
		cv, ok := convert(v, cur.kind)
		if !ok {
			return fmt.Errorf("behavior: set %q: entry holds %s, cannot store %s %s", key, cur.kind, v.kind, v.Quoted())
		}
		v = cv
	}
	in.bb[i] = v
	return nil
}

// Get reads a root blackboard entry; ok is false if it is not set.
func (in *Instance) Get(key string) (v Value, ok bool) {
	i, known := in.tree.rootKeys[key]
	if !known {
		return Value{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.bb[i], in.bb[i].kind != KindNone
}

// SetTracing turns the per-tick trace on or off. Off, tracing costs one
// branch per node.
func (in *Instance) SetTracing(on bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.tracing = on
	in.trace = in.trace[:0]
}

// AppendTrace appends the nodes ticked by the last Tick (with tracing on).
func (in *Instance) AppendTrace(dst []TraceStep) []TraceStep {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append(dst, in.trace...)
}

// AppendStatuses appends every node's current status, by node index:
// the active path is the nodes that are Running.
func (in *Instance) AppendStatuses(dst []Status) []Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append(dst, in.status...)
}

// AppendActive appends the active path: the nodes that are Running now,
// root first (depth-first order). Empty when the tree is idle or finished.
func (in *Instance) AppendActive(dst []int) []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, s := range in.status {
		if s == Running {
			dst = append(dst, i)
		}
	}
	return dst
}

// WatchActive makes f hear the active path (as AppendActive appends it)
// after each Tick or Halt that changed it, and after the first one from
// now whatever it is; nil stops it. It is for designer tools, which want
// a path as it changes rather than one per tick: a watched instance
// compares its path at the end of every tick (a scan of its nodes'
// statuses), an unwatched one pays one branch. f is called as Actuator's
// methods are, with the instance locked: it must not block or call back
// into the Instance, and active is valid only during the call.
func (in *Instance) WatchActive(f func(active []int)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.watch, in.active = f, nil
}

// checkActive calls watch if the active path changed; in.mu must be held.
func (in *Instance) checkActive() {
	next := in.scratch[:0]
	for i, s := range in.status {
		if s == Running {
			next = append(next, i)
		}
	}
	if in.active != nil && slices.Equal(next, in.active) {
		in.scratch = next
		return
	}
	if next == nil {
		next = []int{} // heard: not nil, so an empty path is not heard again
	}
	in.active, in.scratch = next, in.active
	in.watch(in.active)
}

// failCode says why a node failed for a reason other than its children.
type failCode uint8

const (
	fNone        failCode = iota
	fUnset                // a key read before it was set
	fType                 // an entry that cannot be read as the port's type
	fWrite                // a write of the wrong type to a typed entry
	fAssignUnset          // = on an entry never set
	fOperands             // an operator applied to values it does not take
	fDivZero
	fCondition // a condition that is not a bool
	fNoThinker
	fMissing  // an optional port with no value
	fChildren // a threshold beyond a Parallel's children
)

// failure records the last failure with a reason, without allocating: the
// message is formatted only when someone asks (LastFailure).
type failure struct {
	code failCode
	node int32
	slot int32
	port string
	op   opcode
	a, b Kind
	n    int64
}

func (in *Instance) failAt(i int32, f failure) {
	f.node = i
	in.fail = f
}

var opNames = [...]string{opNot: "!", opNeg: "-", opAnd: "&&", opOr: "||", opEq: "==", opNe: "!=", opLt: "<", opLe: "<=",
	opGt: ">", opGe: ">=", opAdd: "+", opSub: "-", opMul: "*", opDiv: "/", opConcat: "..", opTernary: "?:", opSeq: ";"}

// LastFailure returns the most recent failure that had a reason other than
// a child's status (a missing or mistyped blackboard entry, a bad script
// operand): the node and a message a designer can act on.
func (in *Instance) LastFailure() (node int, reason string, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.fail
	if f.code == fNone {
		return 0, "", false
	}
	key := ""
	if f.slot >= 0 && int(f.slot) < len(in.tree.slots) {
		key = in.tree.slots[f.slot].name
	}
	switch f.code {
	case fUnset:
		reason = fmt.Sprintf("blackboard key %q is not set", key)
	case fType:
		reason = fmt.Sprintf("port %q wants %s, but blackboard key %q holds %s", f.port, f.b, key, f.a)
	case fWrite:
		reason = fmt.Sprintf("cannot store %s in blackboard key %q, which holds %s", f.b, key, f.a)
	case fAssignUnset:
		reason = fmt.Sprintf("blackboard key %q is not set; create it with :=", key)
	case fOperands:
		reason = fmt.Sprintf("script: %s does not apply to %s and %s", opNames[f.op], f.a, f.b)
	case fDivZero:
		reason = "script: division by zero"
	case fCondition:
		reason = fmt.Sprintf("script: a %s is not a condition (want bool)", f.a)
	case fNoThinker:
		reason = "Think: this NPC has no thinker"
	case fMissing:
		reason = fmt.Sprintf("port %q has no value", f.port)
	case fChildren:
		reason = fmt.Sprintf("threshold %d is more than its children", f.n)
	}
	return int(f.node), reason, true
}
