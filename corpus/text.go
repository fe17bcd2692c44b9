package corpus

import (
	"strings"
	"unicode/utf8"
)

// vars are the values of a template's slots.
type vars map[string]string

// josa is logically constant: Korean particles by the form written in
// templates (the one used after a final consonant), with the form used after
// a vowel. "으로" is special: after ㄹ it is "로" too.
var josa = map[string][2]string{
	"을":   {"을", "를"},
	"이":   {"이", "가"},
	"은":   {"은", "는"},
	"과":   {"과", "와"},
	"으로":  {"으로", "로"},
	"이랑":  {"이랑", "랑"},
	"아":   {"아", "야"},
	"이나":  {"이나", "나"},
	"이에요": {"이에요", "예요"},
	"이야":  {"이야", "야"},
	"이라고": {"이라고", "라고"},
	"이지":  {"이지", "지"},
	"이고":  {"이고", "고"},
	"이면":  {"이면", "면"},
	"이니":  {"이니", "니"},
	"이오":  {"이오", "오"},
	"이라는": {"이라는", "라는"},
	"이라면": {"이라면", "라면"},
	"이잖아": {"이잖아", "잖아"},
	"이다":  {"이다", "다"},
	"이요":  {"이요", "요"},
	"이라니": {"이라니", "라니"},
}

// finalConsonant reports whether the last syllable of s ends in a consonant
// (받침), and whether that consonant is ㄹ. Digits are read as Sino-Korean
// numerals; other scripts count as vowel-final.
func finalConsonant(s string) (has, rieul bool) {
	r, _ := utf8.DecodeLastRuneInString(strings.TrimRight(s, " .,!?)'\""))
	switch {
	case r >= 0xAC00 && r <= 0xD7A3:
		jong := (r - 0xAC00) % 28
		return jong != 0, jong == 8
	case r >= '0' && r <= '9':
		// 영 일 이 삼 사 오 육 칠 팔 구
		has = strings.ContainsRune("013678", r)
		return has, r == '1' || r == '7' || r == '8'
	}
	return false, false
}

// particle returns the form of the particle p that follows word.
func particle(word, p string) string {
	forms, ok := josa[p]
	if !ok {
		return p
	}
	has, rieul := finalConsonant(word)
	if p == "으로" && rieul {
		return "로"
	}
	if has {
		return forms[0]
	}
	return forms[1]
}

// fill replaces the slots of tpl: {key} by v[key], and {key|p} by v[key]
// followed by the right form of the Korean particle p. An unknown key is
// left as written, so tests can catch it.
func fill(tpl string, v vars) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		b.WriteString(tpl[:i])
		slot := tpl[i+1 : i+j]
		key, p, hasP := strings.Cut(slot, "|")
		val, ok := v[key]
		if !ok {
			b.WriteString(tpl[i : i+j+1])
		} else {
			b.WriteString(val)
			if hasP {
				b.WriteString(particle(val, p))
			}
		}
		tpl = tpl[i+j+1:]
	}
}

// koNum is logically constant: native Korean counting words used before
// counters (세 푼, 다섯 냥).
var koNum = map[int]string{1: "한", 2: "두", 3: "세", 4: "네", 5: "다섯", 6: "여섯", 7: "일곱", 8: "여덟", 9: "아홉", 10: "열", 12: "열두", 15: "열다섯", 20: "스무"}

// enNum is logically constant: small numbers as words.
var enNum = map[int]string{1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 12: "twelve", 15: "fifteen", 20: "twenty"}
