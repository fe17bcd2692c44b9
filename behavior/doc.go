// Package behavior is Anima's behaviour tree runtime: it loads trees written
// in BehaviorTree.CPP v4's XML format (BTCPP_format="4", as Groot2 edits
// them), runs one Instance per NPC, and ticks thousands of them on a
// Scheduler. It is pure: it parses bytes it is given, reads time only as
// the tick's argument, and reaches the game and the npc layer only through
// the Actuator and Thinker interfaces its caller provides.
//
// # Loading
//
// A Library holds the BehaviorTree definitions and TreeNodesModel
// declarations of one or more files (<include path> pulls in others through
// Options.Include). Library.Tree compiles one BehaviorTree into an immutable
// Tree: subtrees are expanded in place, each with its own blackboard scope
// (ports remap keys, literals set entries, _autoremap="true" shares all), and
// every {key}, script variable and port is bound to a slot. Every problem is
// reported at once as an ErrorList of file:line messages: malformed XML,
// unknown nodes (with the nearest name), missing and extra ports, literals
// that do not convert to the port's type, bad {key} references, scripts that
// do not parse, recursive and unknown subtrees, keys a subtree reads that
// nothing writes or remaps, act names outside Options.KnownActions.
//
// # Nodes
//
// Controls: Sequence, ReactiveSequence, SequenceWithMemory, Fallback,
// ReactiveFallback, Parallel (success_count, failure_count), IfThenElse,
// WhileDoElse. Decorators: Inverter, ForceSuccess, ForceFailure, Repeat
// (num_cycles), RetryUntilSuccessful (num_attempts), Timeout (msec), Delay
// (delay_msec), KeepRunningUntilFailure, RunOnce (then_skip), and Anima's
// Cooldown (msec: fail without ticking the child until msec after it last
// finished). Leaves: AlwaysSuccess, AlwaysFailure, Script and
// ScriptCondition (code), SetBlackboard, UnsetBlackboard, CheckGoal (goal),
// Wait/Sleep (msec, a local timer), Think, and the game actions MoveTo,
// Follow, Flee, Wander, Patrol, Say, Emote, Attack, Give, PickUp, UseObject,
// Trade, Act name="..." (any act; its other attributes are its arguments),
// and any Action declared in TreeNodesModel (its ID is the act's name).
// Every node takes the conditions attributes _failureIf, _successIf,
// _skipIf, _while, _onSuccess, _onFailure, _post and _onHalted. Semantics,
// including SKIPPED, halting and reactive aborts, are BehaviorTree.CPP v4's;
// the differences (bounded loops per tick, tick-time timers) are listed in
// tick.go.
//
// # Game actions and decisions
//
// A game action's first tick calls Actuator.Act with a fresh id, the act's
// name and its arguments read from its ports; the node stays Running until
// Instance.Resolve(id, success) reports the game's action_status. Halting a
// running action (a reactive abort, a Timeout, a _while turning false,
// Instance.Halt) calls Actuator.Cancel. Think calls Thinker.Think and
// succeeds at once: the decision arrives later, when the npc layer calls
// Instance.Set for goal (the catalog action's name), target, item, emotion
// and say, keys every tree's root blackboard has (empty strings until set). The trees
// in assets/trees run the subtree Action_<goal> while the goal holds.
//
// # Blackboard
//
// Entries are typed (bool, int, float, string): an entry keeps the kind of
// its first value, and ports convert entries as BehaviorTree.CPP's
// convertFromString does ("3" reads as an int). A read of a missing or
// mistyped entry fails the node; Instance.LastFailure says why.
//
// # Ticking
//
// An Instance is a byte of status per node, a few int64 words per stateful
// node and one Value per blackboard slot; ticking allocates nothing. A
// Scheduler spreads instances over buckets of the tick period and ticks one
// bucket per step on a fixed pool of workers; Run takes its clock as a
// channel of times. With tracing on, an Instance records the nodes each tick
// visited and their statuses (for the designer overlay and tests).
package behavior
