package behavior

// kind identifies what a node does when ticked.
type kind uint8

const (
	kSequence kind = iota
	kReactiveSequence
	kSequenceWithMemory
	kFallback
	kReactiveFallback
	kParallel
	kIfThenElse
	kWhileDoElse
	kInverter
	kForceSuccess
	kForceFailure
	kRepeat
	kRetry
	kTimeout
	kDelay
	kKeepRunningUntilFailure
	kRunOnce
	kCooldown
	kSubTree
	kAlwaysSuccess
	kAlwaysFailure
	kScript
	kScriptCondition
	kSetBlackboard
	kUnsetBlackboard
	kCheckGoal
	kWait
	kThink
	kAct // a game action: act … action_status

	kindCount
)

// class is a node's place in the tree grammar.
type class uint8

const (
	classControl   class = iota // one or more children
	classDecorator              // exactly one child
	classAction                 // a leaf
	classCondition              // a leaf that never returns Running
	classSubTree                // a reference to a BehaviorTree
)

var classNames = [...]string{"Control", "Decorator", "Action", "Condition", "SubTree"}

// dir is a port's direction.
type dir uint8

const (
	dirIn dir = iota
	dirOut
	dirInOut
)

// portSpec declares one port of a node type.
type portSpec struct {
	name     string
	kind     Kind // KindNone: any
	dir      dir
	required bool
	def      string // default: a literal or a {key}; "" for none
}

// spec declares a node type: its behaviour, its place in the grammar, its
// ports in a fixed order (the tick code reads ports by index) and, for game
// actions, the name of the act the game receives.
type spec struct {
	kind        kind
	class       class
	minChildren int // controls only; decorators take exactly one, leaves none
	maxChildren int // 0: no limit
	ports       []portSpec
	act         string
}

// optPort, reqPort and defPort declare optional, required and defaulted
// input ports.
func optPort(name string, k Kind) portSpec { return portSpec{name: name, kind: k} }
func reqPort(name string, k Kind) portSpec { return portSpec{name: name, kind: k, required: true} }
func defPort(name string, k Kind, d string) portSpec {
	return portSpec{name: name, kind: k, def: d}
}

// builtins is logically constant: Anima's node library, by XML tag. Control
// and decorator semantics follow BehaviorTree.CPP v4; Cooldown, CheckGoal,
// Wait, Think and the game actions are Anima's. Ports of game actions
// default to the decision's blackboard keys, so <MoveTo/> goes to {target}.
var builtins = map[string]*spec{
	"Sequence":           {kind: kSequence, class: classControl, minChildren: 1},
	"ReactiveSequence":   {kind: kReactiveSequence, class: classControl, minChildren: 1},
	"SequenceWithMemory": {kind: kSequenceWithMemory, class: classControl, minChildren: 1},
	"SequenceStar":       {kind: kSequenceWithMemory, class: classControl, minChildren: 1}, // v3 name
	"Fallback":           {kind: kFallback, class: classControl, minChildren: 1},
	"ReactiveFallback":   {kind: kReactiveFallback, class: classControl, minChildren: 1},
	"Parallel": {kind: kParallel, class: classControl, minChildren: 1,
		ports: []portSpec{defPort("success_count", KindInt, "-1"), defPort("failure_count", KindInt, "1")}},
	"IfThenElse":  {kind: kIfThenElse, class: classControl, minChildren: 2, maxChildren: 3},
	"WhileDoElse": {kind: kWhileDoElse, class: classControl, minChildren: 2, maxChildren: 3},

	"Inverter":     {kind: kInverter, class: classDecorator},
	"ForceSuccess": {kind: kForceSuccess, class: classDecorator},
	"ForceFailure": {kind: kForceFailure, class: classDecorator},
	"Repeat": {kind: kRepeat, class: classDecorator,
		ports: []portSpec{reqPort("num_cycles", KindInt)}},
	"RetryUntilSuccessful": {kind: kRetry, class: classDecorator,
		ports: []portSpec{reqPort("num_attempts", KindInt)}},
	"Timeout": {kind: kTimeout, class: classDecorator,
		ports: []portSpec{reqPort("msec", KindInt)}},
	"Delay": {kind: kDelay, class: classDecorator,
		ports: []portSpec{reqPort("delay_msec", KindInt)}},
	"KeepRunningUntilFailure": {kind: kKeepRunningUntilFailure, class: classDecorator},
	"RunOnce": {kind: kRunOnce, class: classDecorator,
		ports: []portSpec{defPort("then_skip", KindBool, "true")}},
	"Cooldown": {kind: kCooldown, class: classDecorator,
		ports: []portSpec{reqPort("msec", KindInt)}},

	"AlwaysSuccess": {kind: kAlwaysSuccess, class: classAction},
	"AlwaysFailure": {kind: kAlwaysFailure, class: classAction},
	"Script": {kind: kScript, class: classAction,
		ports: []portSpec{reqPort("code", KindString)}},
	"ScriptCondition": {kind: kScriptCondition, class: classCondition,
		ports: []portSpec{reqPort("code", KindString)}},
	"SetBlackboard": {kind: kSetBlackboard, class: classAction,
		ports: []portSpec{reqPort("value", KindNone), {name: "output_key", dir: dirOut, required: true}}},
	"UnsetBlackboard": {kind: kUnsetBlackboard, class: classAction,
		ports: []portSpec{reqPort("key", KindString)}},
	"CheckGoal": {kind: kCheckGoal, class: classCondition,
		ports: []portSpec{reqPort("goal", KindString)}},
	"Wait": {kind: kWait, class: classAction,
		ports: []portSpec{reqPort("msec", KindInt)}},
	"Sleep": {kind: kWait, class: classAction,
		ports: []portSpec{reqPort("msec", KindInt)}},
	"Think": {kind: kThink, class: classAction,
		ports: []portSpec{defPort("reason", KindString, "routine")}},

	// Game actions: each sends an act and runs until the game's
	// action_status resolves it.
	"MoveTo": {kind: kAct, class: classAction, act: "move_to",
		ports: []portSpec{defPort("target", KindString, "{target}"), defPort("distance", KindFloat, "1")}},
	"Follow": {kind: kAct, class: classAction, act: "follow",
		ports: []portSpec{defPort("target", KindString, "{target}"), defPort("distance", KindFloat, "2")}},
	"Flee": {kind: kAct, class: classAction, act: "flee",
		ports: []portSpec{defPort("target", KindString, "{target}"), defPort("distance", KindFloat, "10")}},
	"Wander": {kind: kAct, class: classAction, act: "wander",
		ports: []portSpec{defPort("radius", KindFloat, "5")}},
	"Patrol": {kind: kAct, class: classAction, act: "patrol",
		ports: []portSpec{defPort("route", KindString, "{route}")}},
	"Say": {kind: kAct, class: classAction, act: "say",
		ports: []portSpec{defPort("text", KindString, "{say}")}},
	"Emote": {kind: kAct, class: classAction, act: "emote",
		ports: []portSpec{defPort("emotion", KindString, "{emotion}")}},
	"Attack": {kind: kAct, class: classAction, act: "attack",
		ports: []portSpec{defPort("target", KindString, "{target}")}},
	"Give": {kind: kAct, class: classAction, act: "give",
		ports: []portSpec{defPort("target", KindString, "{target}"), defPort("item", KindString, "{item}")}},
	"PickUp": {kind: kAct, class: classAction, act: "pick_up",
		ports: []portSpec{defPort("item", KindString, "{target}")}},
	"UseObject": {kind: kAct, class: classAction, act: "use_object",
		ports: []portSpec{defPort("target", KindString, "{target}")}},
	"Trade": {kind: kAct, class: classAction, act: "trade",
		ports: []portSpec{defPort("target", KindString, "{target}"), defPort("item", KindString, "{item}")}},
	// Act sends any act: name is the act's name and every other attribute
	// is an argument (a literal or a {key}).
	"Act": {kind: kAct, class: classAction,
		ports: []portSpec{optPort("name", KindString)}},
}

// Port indexes, in spec order, read by the tick code.
const (
	pSuccessCount = 0 // Parallel
	pFailureCount = 1
	pCount        = 0 // Repeat num_cycles, Retry num_attempts
	pMsec         = 0 // Timeout, Delay, Cooldown, Wait
	pThenSkip     = 0 // RunOnce
	pCode         = 0 // Script, ScriptCondition
	pValue        = 0 // SetBlackboard
	pOutputKey    = 1
	pKey          = 0 // UnsetBlackboard
	pGoal         = 0 // CheckGoal
	pReason       = 0 // Think
)

// The keys every tree's root blackboard has, set to ” until the npc layer
// writes a decision: the decision's fields, so trees can read them without
// a separate declaration and the npc layer can always write them.
var decisionKeys = [...]string{"goal", "target", "item", "emotion", "say"}
