package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/anima-rt/anima/inference/openai"
	"github.com/anima-rt/anima/node"
)

// anima serve -openai: the embedded model answers an OpenAI client with
// JSON that follows the schema it was sent.
func TestServeOpenAI(t *testing.T) {
	d := testDecoder(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o := &openAIServer{addr: &addr}
	if err := o.start(d, nil, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	defer o.stop()

	body := `{"messages":[{"role":"system","content":"You are Brannoc, the smith."},{"role":"user","content":"Can you fix my sword?"}],
		"max_tokens":60,"temperature":0,"response_format":{"type":"json_schema","json_schema":{"name":"d","schema":
		{"type":"object","properties":{"emotion":{"enum":["calm","wary"]},"say":{"type":"string","maxLength":60}},"required":["emotion","say"]}}}}`
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var cr openai.ChatResponse
	if err := json.Unmarshal(b, &cr); err != nil || resp.StatusCode != 200 || len(cr.Choices) != 1 || cr.Choices[0].Message == nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	var out struct{ Emotion, Say string }
	if err := json.Unmarshal([]byte(cr.Choices[0].Message.Content), &out); err != nil || out.Emotion == "" {
		t.Errorf("content %q does not follow the schema: %v", cr.Choices[0].Message.Content, err)
	}
	if cr.Model != d.Info().Name {
		t.Errorf("model %q; want the decoder's %q", cr.Model, d.Info().Name)
	}
	t.Logf("%s (usage %+v)", cr.Choices[0].Message.Content, *cr.Usage)
}

func TestServeOpenAIRefusesAnOpenAddressWithoutKeys(t *testing.T) {
	addr := "0.0.0.0:0"
	o := &openAIServer{addr: &addr}
	var d node.Decoder // never reached
	if err := o.start(&d, nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "ANIMA_API_KEYS") {
		t.Errorf("start on %s without keys = %v; want a refusal naming ANIMA_API_KEYS", addr, err)
	}
}
