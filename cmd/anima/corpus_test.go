package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCorpusVariedPhrasingsAreForTheTrainingSplit(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "train.jsonl")
	if err := runCorpus(context.Background(), []string{"-n", "16", "-group", "8", "-augment", "-extra-phrasings", "-q", "-o", out}); err != nil {
		t.Fatalf("-augment on the training split: %v", err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines++
	}
	if lines != 16 {
		t.Errorf("%d examples written, want 16", lines)
	}
	for _, flag := range [][]string{{"-augment"}, {"-extra-phrasings"}, {"-lookup-boost", "2"}, {"-drills"}} {
		err = runCorpus(context.Background(), append([]string{"-split", "heldout", "-n", "1", "-q", "-o", filepath.Join(dir, "h.jsonl")}, flag...))
		if err == nil || !strings.Contains(err.Error(), flag[0]) {
			t.Errorf("%s on the held-out split: %v, want an error naming the flag", flag, err)
		}
	}
}
