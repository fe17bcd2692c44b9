package tokenizer

import "unicode/utf8"

// Decoder turns a stream of token ids into text deltas, holding back the
// bytes of a character split across tokens until it is complete (byte-level
// BPE splits emoji and Hangul into several tokens), so each delta is valid
// UTF-8 unless the model produced bytes that never form a character. The
// concatenation of all deltas and Flush equals Decode of all ids.
type Decoder struct {
	t       *Tokenizer
	pending []byte // a trailing incomplete UTF-8 sequence, at most 3 bytes
	started bool   // the SentencePiece leading space has been dropped
}

// NewDecoder returns a Decoder for one sequence.
func (t *Tokenizer) NewDecoder() *Decoder { return &Decoder{t: t} }

// Add decodes id and returns the text that is now complete.
func (d *Decoder) Add(id int32) string {
	piece := d.bytes(id)
	if piece == "" {
		return ""
	}
	buf := make([]byte, 0, len(d.pending)+len(piece))
	buf = append(append(buf, d.pending...), piece...)
	d.pending = d.pending[:0]
	// Find where the last character starts; hold it back if it is a valid
	// but incomplete encoding.
	for back := 1; back <= min(utf8.UTFMax-1, len(buf)); back++ {
		c := buf[len(buf)-back]
		if c&0xC0 == 0x80 {
			continue // continuation byte: look further back
		}
		if c >= 0xC0 && !utf8.FullRune(buf[len(buf)-back:]) {
			d.pending = append(d.pending, buf[len(buf)-back:]...)
			buf = buf[:len(buf)-back]
		}
		break
	}
	return string(buf)
}

// Flush returns whatever is held back: bytes that never completed a
// character, at the end of the sequence.
func (d *Decoder) Flush() string {
	s := string(d.pending)
	d.pending = d.pending[:0]
	return s
}

// bytes is the decoded text of one token: empty for control tokens and ids
// outside the vocabulary; SentencePiece's added leading space is dropped
// from the first piece.
func (d *Decoder) bytes(id int32) string {
	t := d.t
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	if t.bpe != nil {
		return t.bpe.pieces[id]
	}
	p := t.spm.pieces[id]
	if !d.started && p != "" {
		d.started = true
		if t.spm.addSpace && p[0] == ' ' {
			p = p[1:]
		}
	}
	return p
}
