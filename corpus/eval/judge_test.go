package eval

import (
	"testing"

	"github.com/anima-rt/anima/corpus"
	"github.com/anima-rt/anima/npc"
)

// A decision is judged against the labels of its own action: an insult may
// be warned (at the player) or ignored, and ignoring it has no target to
// get wrong.
func TestJudgeTargetsByTheChosenAction(t *testing.T) {
	insult := &corpus.Labels{Accept: map[string][]string{"idle": {}, "leave": {}, "warn": {"p4"}}, Targets: []string{"p4"}}
	place := &corpus.Labels{Accept: map[string][]string{"point_to": {"l5"}, "guide": {"l5"}}, Targets: []string{"l5"}}
	for _, tc := range []struct {
		name           string
		l              *corpus.Labels
		act, tgt       string
		action, target bool
	}{
		{"an insult ignored", insult, "idle", "", true, true},
		{"an insult warned at the player", insult, "warn", "p4", true, true},
		{"an insult warned at a bystander", insult, "warn", "n2", true, false},
		{"an insult answered by walking off", insult, "leave", "", true, true},
		{"a place pointed at", place, "point_to", "l5", true, true},
		{"the wrong place pointed at", place, "point_to", "l1", true, false},
		{"a place asked about, ignored", place, "idle", "", false, false},
		{"a right target under a wrong action", place, "follow", "l5", false, false},
	} {
		d := &npc.Decision{Action: npc.Intent{Name: tc.act, Target: tc.tgt}}
		if a, g := judge(tc.l, d); a != tc.action || g != tc.target {
			t.Errorf("%s: action %v, target %v; want %v, %v", tc.name, a, g, tc.action, tc.target)
		}
	}
}
