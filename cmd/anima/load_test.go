package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunLoadWritesHTML runs the command end to end for two seconds: flags,
// the in-process server with the stand-in host, and the HTML file.
func TestRunLoadWritesHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "load.html")
	err := runLoad(context.Background(), []string{"-conns", "2", "-npcs", "3", "-duration", "2s", "-ramp", "500ms",
		"-say-every", "50ms", "-q", "-html", out, "-json"})
	if err != nil {
		t.Fatalf("runLoad: %v", err)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "in-process server, stand-in NPC host") {
		t.Errorf("%s lacks the charts or the target", out)
	}
}

func TestRunLoadRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "ws://192.0.2.1:7777/v1/ws", "-duration", "1s", "-ramp", "0s"},
		{"-conns", "0"},
		{"-duration", "1s", "-ramp", "2s"},
		{"extra"},
	} {
		if err := runLoad(context.Background(), args); err == nil {
			t.Errorf("runLoad(%q) = nil; want an error", args)
		}
	}
}
