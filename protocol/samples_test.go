package protocol_test

import "github.com/anima-rt/anima/protocol"

// samples holds one envelope per message type, filled in the way a real
// session would fill it; the golden files pin their encodings.
var samples = []struct {
	name string
	env  protocol.Envelope
}{
	{"hello", protocol.NewEnvelope("r1", "", &protocol.Hello{
		Versions: []int{1}, Client: "mygame-server/2.3", APIKey: "k-3f9a",
	})},
	{"hello_resume", protocol.NewEnvelope("r9", "", &protocol.Hello{
		Versions: []int{1}, Client: "mygame-server/2.3",
		ResumeToken: "6f1c2a9e-55d0-4f0e-9d7e-1b9a0c3e7d21", LastSeq: 41,
	})},
	{"world", protocol.NewEnvelope("r2", "", &protocol.World{
		WorldID: "oakvale",
		Lore:    "Oakvale is a river town. The old bridge is unsafe after dark & the ferry costs 2 copper.",
	})},
	{"spawn", protocol.NewEnvelope("r3", "brannoc", &protocol.Spawn{
		Persona: "blacksmith", Tree: "villager",
		Blackboard: protocol.Args{"home": "forge", "patrol": []any{"forge", "well"}, "wealth": 12.0},
		Actions:    []string{"follow", "give", "idle", "repair"},
	})},
	{"spawn_inline", protocol.NewEnvelope("r4", "pip", &protocol.Spawn{
		Character: &protocol.Character{
			Name: "Pip", Role: "child", Description: "Curious, fast, afraid of the dark.",
			Style: "Excited, short questions.", Goals: []string{"find the lost cat"},
		},
	})},
	{"spawn_tree_path", protocol.NewEnvelope("r10", "selka", &protocol.Spawn{Persona: "selka", TreePath: true})},
	{"despawn", protocol.NewEnvelope("r5", "pip", &protocol.Despawn{Reason: "left the area"})},
	{"perceive", protocol.NewEnvelope("", "brannoc", &protocol.Perceive{
		Time: "day 3, dusk",
		Self: protocol.Self{Position: protocol.Vec{X: 12.5, Y: 4}, Location: "the forge", Health: 100,
			Status: "working", Inventory: []string{"hammer", "iron ore"}},
		Entities: []protocol.Entity{
			{ID: "p1", Kind: "player", Name: "Aren", Position: protocol.Vec{X: 14, Y: 4}, Relation: "friend"},
			{ID: "n3", Kind: "npc", Name: "Pip", Position: protocol.Vec{X: 30, Y: -2.25, Z: 1}, Relation: "neutral"},
		},
		Events: []protocol.Event{
			{Kind: "give", Source: "p1", Target: "brannoc", Item: "iron ore"},
			{Kind: "speech", Source: "n3", Text: "Have you seen my cat?"},
		},
	})},
	{"player_say", protocol.NewEnvelope("r6", "brannoc", &protocol.PlayerSay{
		Speaker: "p1", Name: "Aren", Text: `Can you fix my sword? It's "the old one".`,
	})},
	{"interrupt", protocol.NewEnvelope("", "brannoc", &protocol.Interrupt{Reason: "player walked away"})},
	{"action_status", protocol.NewEnvelope("", "brannoc", &protocol.ActionStatus{
		ActionID: "a17", Status: protocol.StatusFailure, Reason: "path blocked",
	})},
	{"ping", protocol.NewEnvelope("r7", "", &protocol.Ping{TimeMS: 1764200000123})},
	{"welcome", protocol.NewEnvelope("r1", "", &protocol.Welcome{
		SessionID: "0b6d8f3e-2f7a-4c55-8a51-3c1d2e9f0a47", ResumeToken: "6f1c2a9e-55d0-4f0e-9d7e-1b9a0c3e7d21",
		Version: 1, Server: "anima",
		Limits: protocol.Limits{MaxFrameBytes: 65536, MaxNPCs: 256, MessagesPerSecond: 200, Burst: 400,
			GraceMS: 60000, ReplayBuffer: 1024, OutboundQueue: 256, PingIntervalMS: 20000, ReadTimeoutMS: 60000},
		Model: protocol.Model{Name: "anima-npc-moe", Arch: "qwen3moe", Backend: "native", ContextTokens: 4096},
	})},
	{"welcome_resumed", protocol.NewEnvelope("r9", "", &protocol.Welcome{
		SessionID: "0b6d8f3e-2f7a-4c55-8a51-3c1d2e9f0a47", ResumeToken: "6f1c2a9e-55d0-4f0e-9d7e-1b9a0c3e7d21",
		Version: 1, Server: "anima",
		Limits: protocol.Limits{MaxFrameBytes: 65536, MaxNPCs: 256, MessagesPerSecond: 200, Burst: 400,
			GraceMS: 60000, ReplayBuffer: 1024, OutboundQueue: 256, PingIntervalMS: 20000, ReadTimeoutMS: 60000},
		Model:   protocol.Model{Name: "anima-npc-moe", Arch: "qwen3moe", Backend: "native", ContextTokens: 4096},
		Resumed: true, Replayed: 3,
	})},
	{"spawned", seq(protocol.NewEnvelope("r3", "brannoc", &protocol.Spawned{
		Persona: "blacksmith", Tree: "villager", Actions: []string{"follow", "give", "idle", "repair"},
	}), 1)},
	{"act", seq(protocol.NewEnvelope("", "brannoc", &protocol.Act{
		ActionID: "a17", Name: "go_to", Args: protocol.Args{"target": "p1", "speed": 1.5},
	}), 2)},
	{"cancel", seq(protocol.NewEnvelope("", "brannoc", &protocol.Cancel{ActionID: "a17", Reason: "replanned"}), 3)},
	{"say", seq(protocol.NewEnvelope("", "brannoc", &protocol.Say{UtteranceID: "u5", Delta: "Leave it on "}), 4)},
	{"say_final", seq(protocol.NewEnvelope("", "brannoc", &protocol.Say{
		UtteranceID: "u5", Delta: "the anvil.", Final: true, Text: "Leave it on the anvil.",
	}), 5)},
	{"decision", seq(protocol.NewEnvelope("", "brannoc", &protocol.Decision{
		Emotion: "neutral", Action: "repair", Target: "p1", Say: "Leave it on the anvil.", UtteranceID: "u5",
		Raw:   `{"emotion":"neutral","action":{"name":"repair","target":"p1"},"say":"Leave it on the anvil."}`,
		Stats: &protocol.DecisionStats{PromptTokens: 412, ReusedTokens: 380, GeneratedTokens: 24, TTFTMS: 38.5, TotalMS: 151},
	}), 6)},
	{"tree_path", protocol.NewEnvelope("", "selka", &protocol.TreePath{Path: []string{
		"ReactiveSequence", "ReactiveFallback", "ForceFailure", "SubTree Pursue", "ReactiveFallback",
		"SubTree Action_greet", "Sequence", "MoveTo",
	}})},
	{"error", protocol.NewEnvelope("r6", "ghost", &protocol.Error{
		Code: protocol.CodeUnknownNPC, Message: `npc "ghost" is not spawned in this session`,
	})},
	{"error_field", protocol.NewEnvelope("r8", "brannoc", &protocol.Error{
		Code: protocol.CodeBadField, Field: "body.text", Message: "body.text: required",
	})},
	{"pong", protocol.NewEnvelope("r7", "", &protocol.Pong{TimeMS: 1764200000123})},
}

func seq(e protocol.Envelope, n uint64) protocol.Envelope {
	e.Seq = n
	return e
}
