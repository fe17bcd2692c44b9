package behavior

import (
	"math"
	"time"
)

// This file holds what each node does when ticked and halted. The semantics
// are BehaviorTree.CPP v4's (its documentation and TreeNode::executeTick),
// including SKIPPED, the conditions attributes and halting, with these
// differences, each so a tick stays bounded for a game:
//   - Repeat and RetryUntilSuccessful with -1 (forever) yield Running after
//     each cycle instead of looping within the tick, and all of a tree's
//     Repeats and Retries together run at most maxCyclesPerTick cycles per
//     tick (nested ones would otherwise multiply);
//   - time is the tick's time, so Timeout fires on the first tick at or after
//     its deadline, and Delay and Wait finish on the first tick at or after
//     theirs.

// maxCyclesPerTick bounds how many times Repeats and Retries re-run children
// that complete at once, within one tick of one instance.
const maxCyclesPerTick = 100

// tick runs node i: its preconditions, its own logic, its postconditions.
func (in *Instance) tick(i int32) Status {
	n := &in.tree.nodes[i]
	ti := -1
	if in.tracing {
		ti = len(in.trace)
		in.trace = append(in.trace, TraceStep{Node: i, Status: Running})
	}
	prev := in.status[i]
	var s Status
	done := false
	if n.hasCond {
		s, done = in.preconditions(i, n, prev)
	}
	if !done {
		s = in.run(i, n, prev)
	}
	if n.hasCond {
		s = in.postconditions(i, n, s)
	}
	if s != Skipped {
		in.status[i] = s
	}
	if ti >= 0 {
		in.trace[ti].Status = s
	}
	return s
}

// preconditions evaluates _failureIf, _successIf, _skipIf and _while. They
// apply when the node starts; only _while is checked again while it runs,
// halting it when false.
func (in *Instance) preconditions(i int32, n *node, prev Status) (Status, bool) {
	if prev == Idle {
		for k, e := range n.pre {
			if e == nil {
				continue
			}
			b, ok := in.cond(i, e)
			if !ok {
				return Failure, true
			}
			switch {
			case b && k == preFailureIf:
				return Failure, true
			case b && k == preSuccessIf:
				return Success, true
			case b && k == preSkipIf:
				return Skipped, true
			case !b && k == preWhile:
				return Skipped, true
			}
		}
	} else if prev == Running && n.pre[preWhile] != nil {
		b, ok := in.cond(i, n.pre[preWhile])
		if !ok {
			in.halt(i, "_while failed")
			return Failure, true
		}
		if !b {
			in.halt(i, "_while became false")
			return Skipped, true
		}
	}
	return 0, false
}

// postconditions runs _onSuccess, _onFailure and _post. A script that fails
// turns the result into Failure.
func (in *Instance) postconditions(i int32, n *node, s Status) Status {
	var e *expr
	switch s {
	case Success:
		e = n.post[postOnSuccess]
	case Failure:
		e = n.post[postOnFailure]
	default:
		return s
	}
	if e != nil {
		if _, ok := in.eval(i, e); !ok {
			s = Failure
		}
	}
	if e := n.post[postAlways]; e != nil {
		if _, ok := in.eval(i, e); !ok {
			s = Failure
		}
	}
	return s
}

// halt stops node i and its descendants, cancelling running acts, and
// resets them to Idle. Completed nodes are reset quietly; that is also how
// parents reset children that finished.
func (in *Instance) halt(i int32, why string) {
	st := in.status[i]
	if st == Idle {
		return
	}
	n := &in.tree.nodes[i]
	for _, c := range n.children {
		in.halt(c, why)
	}
	a := in.aux[n.aux:]
	switch n.kind {
	case kSequence, kFallback:
		a[0], a[1] = 0, 0
	case kSequenceWithMemory:
		a[1] = 0 // the index is the memory: it survives a halt
	case kParallel:
		a[0], a[1] = 0, 0
	case kIfThenElse, kRepeat, kRetry:
		a[0] = 0
	case kAct:
		if st == Running && a[0] != 0 && a[1] == actPending && in.act != nil {
			in.act.Cancel(in.npc, uint64(a[0]), why)
		}
		a[0], a[1] = 0, 0
	}
	if st == Running && n.post[postOnHalted] != nil {
		in.eval(i, n.post[postOnHalted])
	}
	in.status[i] = Idle
}

func (in *Instance) haltChildren(n *node, why string) {
	for _, c := range n.children {
		in.halt(c, why)
	}
}

// run is the node's own tick.
func (in *Instance) run(i int32, n *node, prev Status) Status {
	switch n.kind {
	case kSequence:
		return in.sequence(n, prev, false)
	case kSequenceWithMemory:
		return in.sequence(n, prev, true)
	case kFallback:
		return in.fallback(n, prev)
	case kReactiveSequence:
		return in.reactive(n, Failure, Success)
	case kReactiveFallback:
		return in.reactive(n, Success, Failure)
	case kParallel:
		return in.parallel(i, n)
	case kIfThenElse:
		return in.ifThenElse(n)
	case kWhileDoElse:
		return in.whileDoElse(n)
	case kSubTree:
		return in.decorate(n, func(s Status) Status { return s })
	case kInverter:
		return in.decorate(n, func(s Status) Status {
			if s == Success {
				return Failure
			}
			return Success
		})
	case kForceSuccess:
		return in.decorate(n, func(Status) Status { return Success })
	case kForceFailure:
		return in.decorate(n, func(Status) Status { return Failure })
	case kKeepRunningUntilFailure:
		return in.decorate(n, func(s Status) Status {
			if s == Success {
				return Running
			}
			return Failure
		})
	case kRepeat:
		return in.repeat(i, n, Success)
	case kRetry:
		return in.repeat(i, n, Failure)
	case kTimeout:
		return in.timeout(i, n, prev)
	case kDelay:
		return in.delay(i, n, prev)
	case kRunOnce:
		return in.runOnce(i, n)
	case kCooldown:
		return in.cooldown(i, n, prev)
	case kAlwaysSuccess:
		return Success
	case kAlwaysFailure:
		return Failure
	case kScript:
		if n.script == nil {
			return Failure
		}
		if _, ok := in.eval(i, n.script); !ok {
			return Failure
		}
		return Success
	case kScriptCondition:
		if n.script == nil {
			return Failure
		}
		if b, ok := in.cond(i, n.script); ok && b {
			return Success
		}
		return Failure
	case kSetBlackboard:
		v, ok := in.port(i, &n.ports[pValue])
		if !ok || n.ports[pOutputKey].slot < 0 {
			return Failure
		}
		if !in.write(i, n.ports[pOutputKey].slot, v) {
			return Failure
		}
		return Success
	case kUnsetBlackboard:
		if s := n.ports[pKey].slot; s >= 0 {
			in.bb[s] = Value{}
		}
		return Success
	case kCheckGoal:
		want, ok := in.port(i, &n.ports[pGoal])
		goal := in.bb[in.tree.goal]
		if ok && goal.kind == KindString && goal.str == want.str {
			return Success
		}
		return Failure
	case kWait:
		return in.wait(i, n, prev)
	case kThink:
		if in.think == nil {
			in.failAt(i, failure{code: fNoThinker})
			return Failure
		}
		reason, ok := in.port(i, &n.ports[pReason])
		if !ok {
			return Failure
		}
		in.think.Think(in.npc, reason.str)
		return Success
	case kAct:
		return in.gameAction(i, n, prev)
	}
	return Failure
}

func (in *Instance) sequence(n *node, prev Status, memory bool) Status {
	a := in.aux[n.aux : n.aux+2]
	if prev == Idle {
		a[1] = 0 // skipped children, counted over one run
	}
	ch := n.children
	for int(a[0]) < len(ch) {
		switch in.tick(ch[a[0]]) {
		case Running:
			return Running
		case Failure:
			if memory {
				// Keep the index: the next run retries the failed child.
				for _, c := range ch[a[0]:] {
					in.halt(c, "sequence failed")
				}
			} else {
				in.haltChildren(n, "sequence failed")
				a[0] = 0
			}
			return Failure
		case Success:
			a[0]++
		case Skipped:
			a[0]++
			a[1]++
		}
	}
	allSkipped := int(a[1]) == len(ch)
	in.haltChildren(n, "done")
	a[0], a[1] = 0, 0
	if allSkipped {
		return Skipped
	}
	return Success
}

func (in *Instance) fallback(n *node, prev Status) Status {
	a := in.aux[n.aux : n.aux+2]
	if prev == Idle {
		a[1] = 0
	}
	ch := n.children
	for int(a[0]) < len(ch) {
		switch in.tick(ch[a[0]]) {
		case Running:
			return Running
		case Success:
			in.haltChildren(n, "fallback succeeded")
			a[0] = 0
			return Success
		case Failure:
			a[0]++
		case Skipped:
			a[0]++
			a[1]++
		}
	}
	allSkipped := int(a[1]) == len(ch)
	in.haltChildren(n, "done")
	a[0], a[1] = 0, 0
	if allSkipped {
		return Skipped
	}
	return Failure
}

// reactive is ReactiveSequence (stop=Failure, done=Success) and
// ReactiveFallback (stop=Success, done=Failure): every tick starts again at
// the first child, and a child that runs halts every other child, so a
// condition that changes aborts the branch that was running.
func (in *Instance) reactive(n *node, stop, done Status) Status {
	allSkipped := true
	for k, c := range n.children {
		s := in.tick(c)
		allSkipped = allSkipped && s == Skipped
		switch s {
		case Running:
			for j, d := range n.children {
				if j != k {
					in.halt(d, "aborted")
				}
			}
			return Running
		case stop:
			in.haltChildren(n, "aborted")
			return stop
		}
	}
	in.haltChildren(n, "done")
	if allSkipped {
		return Skipped
	}
	return done
}

// threshold turns a Parallel count into a number of children: negative
// counts from the end (-1 is all of them).
func threshold(t int64, children int) int64 {
	if t < 0 {
		return max(int64(children)+t+1, 0)
	}
	return t
}

func (in *Instance) parallel(i int32, n *node) Status {
	rawSucc, ok1 := in.portInt(i, &n.ports[pSuccessCount])
	rawFail, ok2 := in.portInt(i, &n.ports[pFailureCount])
	if !ok1 || !ok2 {
		return Failure
	}
	nch := len(n.children)
	needSucc, needFail := threshold(rawSucc, nch), threshold(rawFail, nch)
	if needSucc > int64(nch) || needFail > int64(nch) {
		in.failAt(i, failure{code: fChildren, n: max(needSucc, needFail), slot: -1})
		return Failure
	}
	a := in.aux[n.aux : n.aux+2] // successes, failures
	skipped := 0
	for _, c := range n.children {
		if st := in.status[c]; st != Success && st != Failure {
			switch in.tick(c) {
			case Skipped:
				skipped++
			case Success:
				a[0]++
			case Failure:
				a[1]++
			}
		}
		if a[0] >= needSucc || rawSucc < 0 && a[0]+int64(skipped) >= needSucc {
			a[0], a[1] = 0, 0
			in.haltChildren(n, "parallel succeeded")
			return Success
		}
		if int64(nch)-a[1] < needSucc || a[1] == needFail {
			a[0], a[1] = 0, 0
			in.haltChildren(n, "parallel failed")
			return Failure
		}
	}
	if skipped == nch {
		return Skipped
	}
	return Running
}

func (in *Instance) ifThenElse(n *node) Status {
	a := in.aux[n.aux : n.aux+1]
	ch := n.children
	if a[0] == 0 {
		switch in.tick(ch[0]) {
		case Running:
			return Running
		case Success:
			a[0] = 1
		case Failure:
			if len(ch) < 3 {
				in.haltChildren(n, "done")
				return Failure
			}
			a[0] = 2
		case Skipped:
			return Skipped
		}
	}
	s := in.tick(ch[a[0]])
	if s == Running {
		return Running
	}
	in.haltChildren(n, "done")
	a[0] = 0
	return s
}

// whileDoElse is IfThenElse re-checking its condition every tick: a change
// halts the running branch and starts the other.
func (in *Instance) whileDoElse(n *node) Status {
	ch := n.children
	var s Status
	switch in.tick(ch[0]) {
	case Running:
		return Running
	case Success:
		if len(ch) == 3 {
			in.halt(ch[2], "condition changed")
		}
		s = in.tick(ch[1])
	case Failure:
		if len(ch) < 3 {
			in.haltChildren(n, "done")
			return Failure
		}
		in.halt(ch[1], "condition changed")
		s = in.tick(ch[2])
	default:
		return Skipped
	}
	if s == Running {
		return Running
	}
	in.haltChildren(n, "done")
	return s
}

// decorate ticks the only child and, when it completes, resets it and
// returns f of its status. Running and Skipped pass through.
func (in *Instance) decorate(n *node, f func(Status) Status) Status {
	if len(n.children) == 0 {
		return Failure
	}
	c := n.children[0]
	s := in.tick(c)
	if s == Success || s == Failure {
		in.halt(c, "done")
		return f(s)
	}
	return s
}

// repeat is Repeat (again=Success: num_cycles) and RetryUntilSuccessful
// (again=Failure: num_attempts).
func (in *Instance) repeat(i int32, n *node, again Status) Status {
	limit, ok := in.portInt(i, &n.ports[pCount])
	if !ok || len(n.children) == 0 {
		return Failure
	}
	c := n.children[0]
	count := &in.aux[n.aux]
	other := Failure
	if again == Failure {
		other = Success
	}
	for *count < limit || limit < 0 {
		if in.cycles >= maxCyclesPerTick {
			return Running // go on next tick
		}
		in.cycles++
		switch s := in.tick(c); s {
		case Running:
			return Running
		case Skipped:
			return Skipped
		case other:
			*count = 0
			in.halt(c, "done")
			return other
		default:
			*count++
			in.halt(c, "done")
			if limit < 0 {
				return Running // forever: one cycle per tick
			}
		}
	}
	*count = 0
	return again
}

func (in *Instance) timeout(i int32, n *node, prev Status) Status {
	ms, ok := in.portInt(i, &n.ports[pMsec])
	if !ok || len(n.children) == 0 {
		return Failure
	}
	start := &in.aux[n.aux]
	if prev != Running {
		*start = in.now
	} else if in.now-*start >= msec(ms) {
		in.halt(n.children[0], "timeout")
		return Failure
	}
	s := in.tick(n.children[0])
	if s == Success || s == Failure {
		in.halt(n.children[0], "done")
	}
	return s
}

func (in *Instance) delay(i int32, n *node, prev Status) Status {
	ms, ok := in.portInt(i, &n.ports[pMsec])
	if !ok || len(n.children) == 0 {
		return Failure
	}
	start := &in.aux[n.aux]
	if prev != Running {
		*start = in.now
	}
	if in.now-*start < msec(ms) {
		return Running
	}
	s := in.tick(n.children[0])
	if s == Success || s == Failure {
		in.halt(n.children[0], "done")
	}
	return s
}

func (in *Instance) runOnce(i int32, n *node) Status {
	a := in.aux[n.aux : n.aux+2] // ran, its status
	if a[0] != 0 {
		skip, ok := in.port(i, &n.ports[pThenSkip])
		if ok && skip.boolean() {
			return Skipped
		}
		return Status(a[1])
	}
	if len(n.children) == 0 {
		return Failure
	}
	s := in.tick(n.children[0])
	if s == Success || s == Failure {
		a[0], a[1] = 1, int64(s)
		in.halt(n.children[0], "done")
	}
	return s
}

// cooldown runs its child, then fails without ticking it until msec have
// passed since the child finished (Anima's; Unreal has the same decorator).
func (in *Instance) cooldown(i int32, n *node, prev Status) Status {
	ms, ok := in.portInt(i, &n.ports[pMsec])
	if !ok || len(n.children) == 0 {
		return Failure
	}
	readyAt := &in.aux[n.aux]
	if prev != Running && in.now < *readyAt {
		return Failure
	}
	s := in.tick(n.children[0])
	if s == Success || s == Failure {
		*readyAt = in.now + msec(ms)
		in.halt(n.children[0], "done")
	}
	return s
}

func (in *Instance) wait(i int32, n *node, prev Status) Status {
	ms, ok := in.portInt(i, &n.ports[pMsec])
	if !ok {
		return Failure
	}
	start := &in.aux[n.aux]
	if prev != Running {
		*start = in.now
	}
	if in.now-*start >= msec(ms) {
		return Success
	}
	return Running
}

// gameAction sends the act on its first tick and then waits for Resolve.
func (in *Instance) gameAction(i int32, n *node, prev Status) Status {
	a := in.aux[n.aux : n.aux+2] // act id, actPending/actSucceeded/actFailed
	if prev != Running || a[0] == 0 {
		args := in.args[:0]
		for k := range n.ports {
			p := &n.ports[k]
			if p.out || p.slot < 0 && p.lit.kind == KindNone {
				continue // the game returns only a status; an unset optional port is left out
			}
			v, ok := in.port(i, p)
			if !ok {
				return Failure
			}
			args = append(args, Arg{Name: p.name, Value: v})
		}
		in.nextID++
		a[0], a[1] = int64(in.nextID), actPending
		if in.act != nil {
			in.act.Act(in.npc, in.nextID, n.act, args)
		}
		clear(args)
		return Running
	}
	switch a[1] {
	case actSucceeded:
		a[0], a[1] = 0, 0
		return Success
	case actFailed:
		a[0], a[1] = 0, 0
		return Failure
	}
	return Running
}

// port reads a port's value as its type: the literal, or the blackboard
// entry converted (convertFromString for strings). A missing or mistyped
// entry records why and reports false.
func (in *Instance) port(i int32, p *portRef) (Value, bool) {
	if p.slot < 0 {
		if p.lit.kind == KindNone {
			in.failAt(i, failure{code: fMissing, port: p.name, slot: -1})
			return p.lit, false
		}
		return p.lit, true
	}
	v := in.bb[p.slot]
	if v.kind == KindNone {
		in.failAt(i, failure{code: fUnset, slot: p.slot, port: p.name})
		return v, false
	}
	if p.kind == KindNone || v.kind == p.kind {
		return v, true
	}
	cv, ok := convert(v, p.kind)
	if !ok {
		in.failAt(i, failure{code: fType, slot: p.slot, port: p.name, a: v.kind, b: p.kind})
	}
	return cv, ok
}

func (in *Instance) portInt(i int32, p *portRef) (int64, bool) {
	v, ok := in.port(i, p)
	return v.integer(), ok
}

// msec converts a port's milliseconds to nanoseconds, clamped to [0, about
// 292 years] so a huge or negative value read from the blackboard cannot
// overflow time arithmetic.
func msec(ms int64) int64 {
	const maxMs = math.MaxInt64 / 2 / int64(time.Millisecond)
	return min(max(ms, 0), maxMs) * int64(time.Millisecond)
}
