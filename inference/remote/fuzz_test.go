package remote

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/engine"
)

// FuzzStream feeds arbitrary server events to the stream parser with the
// decision schema: it never panics, and whenever it accepts a finished
// stream, the text it hands the caller is valid JSON that the field deltas
// agree with.
func FuzzStream(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"delta":{"content":"{\"emotion\": \"calm\", \"say\": \"Hi"}}]}` + "\n\n" + `{"choices":[{"delta":{},"finish_reason":"length"}]}` + "\n\n[DONE]",
		`{"choices":[{"text":"{\"emotion\":\"wary\",\"say\":\"\\u00e9\"}","finish_reason":"stop"}],"usage":{"prompt_tokens":3}}` + "\n\n[DONE]",
		`{"error":{"message":"boom"}}`, `{"object":"error","message":"x"}`, `not json`, `[DONE]`,
	} {
		f.Add([]byte(s))
	}
	c, err := New(Config{URL: "http://unused", Model: "m"})
	if err != nil {
		f.Fatal(err)
	}
	g, err := c.Grammar([]byte(`{"type":"object","properties":{"emotion":{"enum":["calm","wary"]},"say":{"type":"string","maxLength":20}},"required":["emotion","say"]}`))
	if err != nil {
		f.Fatal(err)
	}
	se := c.entry(g)
	f.Fuzz(func(t *testing.T, data []byte) {
		var said bytes.Buffer
		req := &engine.Request{StreamField: "say"}
		st := newStream(req, se, func(ev engine.Event) { said.WriteString(ev.Field) }, time.Now(), len(data)%2 == 0)
		for _, ev := range bytes.Split(data, []byte("\n\n")) {
			done, err := st.event(ev)
			if err != nil {
				return
			}
			if done {
				res := st.result()
				var v struct{ Say string }
				if err := json.Unmarshal([]byte(res.Text), &v); err != nil {
					t.Fatalf("accepted stream gave %q, which is not the schema's JSON: %v", res.Text, err)
				}
				if v.Say != said.String() {
					t.Fatalf("field deltas %q; the JSON's say is %q", said.String(), v.Say)
				}
				return
			}
		}
	})
}
