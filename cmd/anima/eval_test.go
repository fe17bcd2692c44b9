package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/anima-rt/anima/assets"
)

// anima eval -json prints one object with the issue's keys, overall at the
// top level and again per language.
func TestEvalJSONHasTheIssueKeys(t *testing.T) {
	if _, err := assets.Model(); errors.Is(err, assets.ErrNoModel) {
		t.Skip(err)
	}
	var out, errs bytes.Buffer
	if err := evaluate(context.Background(), []string{"-n", "3", "-json", "-max-tokens", "64"}, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	var obj map[string]any
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	keys := []string{"valid_constrained", "valid_unconstrained", "action_accuracy", "target_accuracy", "injection_in_character", "perplexity"}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("no %q in %s", k, out.String())
		}
	}
	by, _ := obj["by_lang"].(map[string]any)
	if len(by) == 0 {
		t.Fatalf("no by_lang in %s", out.String())
	}
	for l, v := range by {
		s, _ := v.(map[string]any)
		for _, k := range keys {
			if _, ok := s[k]; !ok {
				t.Errorf("by_lang.%s has no %q", l, k)
			}
		}
	}
	if _, ok := obj["grounded"]; !ok {
		t.Errorf("no grounded rate in %s", out.String())
	}
	// by_kind splits the same examples by situation kind.
	kinds, _ := obj["by_kind"].(map[string]any)
	sum := 0.0
	for k, v := range kinds {
		s, _ := v.(map[string]any)
		n, _ := s["examples"].(float64)
		if _, ok := s["action_accuracy"]; !ok || n < 1 {
			t.Errorf("by_kind.%s = %v; want examples and action_accuracy", k, s)
		}
		sum += n
	}
	if sum != obj["examples"] {
		t.Errorf("by_kind counts %v examples, overall %v", sum, obj["examples"])
	}
	if obj["valid_constrained"] != 1.0 {
		t.Errorf("valid_constrained = %v; want 1", obj["valid_constrained"])
	}
}

// -by-kind adds a table with a row per situation kind.
func TestEvalByKindTable(t *testing.T) {
	if _, err := assets.Model(); errors.Is(err, assets.ErrNoModel) {
		t.Skip(err)
	}
	var out, errs bytes.Buffer
	if err := evaluate(context.Background(), []string{"-n", "2", "-by-kind", "-max-tokens", "64"}, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "| kind | examples | action | target |") {
		t.Errorf("no kind table in\n%s", out.String())
	}
}

func TestEvalRejectsBadCounts(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-n", "1", "-start", "-5"}, {"-n", "1", "-split", "test"}, {"-n", "1", "-show-kind", "injecton"}} {
		var out, errs bytes.Buffer
		if err := evaluate(context.Background(), args, &out, &errs); err == nil {
			t.Errorf("eval %v succeeded; want an error", args)
		}
	}
}

// -show-kind prints every example of the kinds named, with the model's
// decision, its reference and whether the action was accepted: how a
// trainer sees why a kind fails.
func TestEvalShowKindPrintsEveryExampleOfTheKind(t *testing.T) {
	if _, err := assets.Model(); errors.Is(err, assets.ErrNoModel) {
		t.Skip(err)
	}
	var out, errs bytes.Buffer
	if err := evaluate(context.Background(), []string{"-n", "40", "-show-kind", "ask_place", "-max-tokens", "64", "-json"}, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	var obj struct {
		ByKind  map[string]struct{ Examples int } `json:"by_kind"`
		Samples []struct{ Kind, Constrained string }
	}
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	want := obj.ByKind["ask_place"].Examples
	if want == 0 {
		t.Fatalf("no ask_place among the first 40 held-out examples; pick another kind (%v)", obj.ByKind)
	}
	if len(obj.Samples) != want {
		t.Errorf("%d samples; want the %d ask_place examples", len(obj.Samples), want)
	}
	for _, s := range obj.Samples {
		if s.Kind != "ask_place" || s.Constrained == "" {
			t.Errorf("sample %+v; want an ask_place example with its output", s)
		}
	}
}
