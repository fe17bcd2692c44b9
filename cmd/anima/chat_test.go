package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/anima-rt/anima/protocol"
)

// anima chat -persona NAME -say TEXT answers once: one JSON line, a decision
// message naming one of the persona's actions, then exit.
func TestChatOneShot(t *testing.T) {
	d := testDecoder(t)
	var out, errs bytes.Buffer
	err := chat(context.Background(), []string{"-persona", "brannoc", "-say", "Can you fix my sword?", "-temp", "0", "-max-tokens", "64"},
		strings.NewReader(""), &out, &errs, d)
	if err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("output is %d lines; want one:\n%s", len(lines), out.String())
	}
	var dec protocol.Decision
	if err := json.Unmarshal([]byte(lines[0]), &dec); err != nil {
		t.Fatalf("output is not a decision: %v\n%s", err, lines[0])
	}
	brannoc := []string{"idle", "greet", "trade", "give", "repair", "point_to", "go_to", "call_guard", "warn", "work", "rest", "flee"}
	if !slices.Contains(brannoc, dec.Action) || dec.Raw == "" || dec.Stats == nil {
		t.Errorf("decision %+v; want one of Brannoc's actions, the raw output and stats", dec)
	}
}

// The interactive chat streams the reply and shows the decision and the
// cache figures; /memory lists what the NPC remembers.
func TestChatInteractive(t *testing.T) {
	d := testDecoder(t)
	var out, errs bytes.Buffer
	in := strings.NewReader("Hello there!\nWhat do you sell?\n/memory\n/quit\n")
	if err := chat(context.Background(), []string{"-persona", "maren", "-temp", "0", "-max-tokens", "48"}, in, &out, &errs, d); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	got := out.String()
	for _, want := range []string{"Talking to Maren", `{"emotion":`, "prompt tokens from cache", `"Hello there!"`} {
		if !strings.Contains(got, want) {
			t.Errorf("chat output lacks %q:\n%s", want, got)
		}
	}
}

func TestChatUnknownPersona(t *testing.T) {
	d := testDecoder(t)
	var out, errs bytes.Buffer
	err := chat(context.Background(), []string{"-persona", "nobody", "-say", "hi"}, strings.NewReader(""), &out, &errs, d)
	if err == nil || !strings.Contains(err.Error(), "brannoc") {
		t.Errorf("chat -persona nobody: %v; want an error listing the personas", err)
	}
}

// The chat NPC is at its workplace in the morning, worded as the embedded
// model reads a game's perception ("[Time] morning"; "[Self] at \"l2\"" in
// its id-last layout).
func TestChatNPCIsAtWork(t *testing.T) {
	d := testDecoder(t)
	for _, tc := range []struct{ persona, time, self string }{
		{"brannoc", "[Time] morning", `[Self] at "l2"`},
		{"makswe", "[Time] 아침", `[Self] at "l2"`},
	} {
		var out, errs bytes.Buffer
		in := strings.NewReader("Hello!\n/prompt\n/quit\n")
		if err := chat(context.Background(), []string{"-persona", tc.persona, "-temp", "0", "-max-tokens", "32"}, in, &out, &errs, d); err != nil {
			t.Fatalf("%v\n%s", err, errs.String())
		}
		for _, want := range []string{tc.time, tc.self} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: the prompt lacks %q:\n%s", tc.persona, want, out.String())
			}
		}
	}
}

func TestWorkplaceIsReadFromKnowledge(t *testing.T) {
	for _, tc := range []struct {
		knows []string
		want  string
	}{
		{[]string{"Repairs cost two silver", "You work at the Ember Forge"}, "the Ember Forge"},
		{[]string{"You work at Brook Mill."}, "Brook Mill"},
		{[]string{"쇠메 대장간에서 일한다"}, "쇠메 대장간"},
		{[]string{"The gate closes at nightfall"}, ""},
		{nil, ""},
	} {
		if got := workplace(tc.knows); got != tc.want {
			t.Errorf("workplace(%q) = %q, want %q", tc.knows, got, tc.want)
		}
	}
}
