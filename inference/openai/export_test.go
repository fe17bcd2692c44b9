package openai

import "github.com/anima-rt/anima/inference/engine"

// ChatSegments exposes the chat layout to the external tests.
func ChatSegments(body []byte) ([]engine.Segment, error) {
	c, err := parseChat(body, limits{context: 1024, maxMessages: 16, defaultMax: 16})
	if err != nil {
		return nil, err
	}
	return c.segments, nil
}
