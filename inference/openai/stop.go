package openai

import "strings"

// stopper cuts streamed text at the first of its stop strings. It holds
// back the end of the text that could still grow into a stop string, so no
// part of a stop string is ever sent.
type stopper struct {
	stops   []string
	pending string // text held back: a suffix that is a prefix of a stop
	hit     bool
}

// push adds delta and returns the text that is now safe to send, and
// whether a stop string was found (then nothing after it is ever sent).
func (s *stopper) push(delta string) (string, bool) {
	if s.hit {
		return "", true
	}
	if len(s.stops) == 0 {
		return delta, false
	}
	buf := s.pending + delta
	cut := -1
	for _, st := range s.stops {
		if i := strings.Index(buf, st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		s.hit, s.pending = true, ""
		return buf[:cut], true
	}
	// Hold back the longest suffix that begins some stop string. It starts
	// where a stop string's first byte matches, so never inside a
	// character.
	keep := 0
	for _, st := range s.stops {
		for n := min(len(st)-1, len(buf)); n > keep; n-- {
			if strings.HasSuffix(buf, st[:n]) {
				keep = n
				break
			}
		}
	}
	s.pending = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}

// flush returns the text held back, at the end of the output.
func (s *stopper) flush() string {
	p := s.pending
	s.pending = ""
	return p
}
