package protocol_test

import (
	"testing"

	"github.com/anima-rt/anima/protocol"
)

// benchMessages are the messages that dominate traffic: perceptions and
// action statuses in; say deltas, acts and decisions out.
var benchMessages = []string{"perceive", "say", "act", "action_status", "decision"}

func sample(name string) protocol.Envelope {
	for _, s := range samples {
		if s.name == name {
			return s.env
		}
	}
	panic("no sample " + name)
}

// BenchmarkEncode reports messages per second and bytes per frame for each
// codec and message.
func BenchmarkEncode(b *testing.B) {
	for _, c := range codecs {
		for _, name := range benchMessages {
			env := sample(name)
			b.Run(c.codec.Subprotocol()+"/"+name, func(b *testing.B) {
				var n int
				b.ReportAllocs()
				for b.Loop() {
					frame, err := c.codec.Encode(env)
					if err != nil {
						b.Fatal(err)
					}
					n = len(frame)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(float64(n), "bytes/frame")
			})
		}
	}
}

// BenchmarkDecode reports messages per second decoded and validated.
func BenchmarkDecode(b *testing.B) {
	for _, c := range codecs {
		for _, name := range benchMessages {
			frame, err := c.codec.Encode(sample(name))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(c.codec.Subprotocol()+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(frame)))
				for b.Loop() {
					if _, err := c.codec.Decode(frame); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
