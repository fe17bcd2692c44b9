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
	for _, flag := range []string{"-augment", "-extra-phrasings"} {
		err = runCorpus(context.Background(), []string{"-split", "heldout", "-n", "1", flag, "-q", "-o", filepath.Join(dir, "h.jsonl")})
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s on the held-out split: %v, want an error naming the flag", flag, err)
		}
	}
}
