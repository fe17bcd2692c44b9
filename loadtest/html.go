package loadtest

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// WriteHTML writes the report as one self-contained HTML page: summary
// tiles, the latency table, and inline SVG charts of latency percentiles,
// throughput, cache reuse, memory and goroutines over time. It loads
// nothing from anywhere; the markup is also well-formed XML, so tests can
// check it with encoding/xml.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	e := html.EscapeString
	sc := r.Scenario
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>Anima load report</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans KR",sans-serif;color:#1d2433;background:#f4f5f8;margin:0}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:18px;margin:30px 0 8px}
.sub{color:#5a6478;margin:0 0 18px}
.tiles{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin:8px 0 8px}
.tile{background:#fff;border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.tile .v{font-size:26px;font-weight:650;letter-spacing:-.5px}
.tile .k{color:#5a6478;font-size:13px}
.tile.bad .v{color:#c0392b}
.tile.good .v{color:#1e8449}
.card{background:#fff;border-radius:10px;padding:14px 16px 8px;margin:12px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card h3{font-size:15px;margin:0 0 2px}
.card .note{color:#5a6478;font-size:13px;margin:0 0 6px}
.legend{font-size:13px;color:#333;margin:2px 0 4px}
.legend span{display:inline-block;margin-right:16px}
.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:6px;border-radius:2px}
table{border-collapse:collapse;background:#fff;border-radius:10px;overflow:hidden;box-shadow:0 1px 2px rgba(0,0,0,.08);width:100%}
th,td{padding:7px 12px;text-align:right;border-bottom:1px solid #eceef3;font-variant-numeric:tabular-nums}
th:first-child,td:first-child{text-align:left}
th{background:#f8f9fb;font-weight:600;color:#394256}
.two{display:grid;grid-template-columns:1fr 1fr;gap:12px}
svg{display:block;width:100%;height:auto}
svg text{font:12px system-ui,sans-serif;fill:#5a6478}
ul.notes{color:#5a6478;font-size:13px}
</style></head><body><main>
`)
	fmt.Fprintf(&b, "<h1>Anima load report</h1>\n<p class=\"sub\">%d connections × %d NPCs (%d NPCs), %gs run with a %gs ramp, against %s",
		sc.Conns, sc.NPCsPerConn, sc.Conns*sc.NPCsPerConn, sc.DurationS, sc.RampS, e(sc.Target))
	if sc.Model != "" {
		fmt.Fprintf(&b, ", model %s", e(sc.Model))
	}
	fmt.Fprintf(&b, ". A player line every %gms overall, a perceive every %gms per NPC; seed %d; started %s.</p>\n",
		sc.SayEveryMS, sc.PerceiveEveryMS, sc.Seed, e(r.Started.UTC().Format("2006-01-02 15:04:05 UTC")))

	// Tiles: the figures people ask for first.
	errs := sum(r.Errors)
	first, dec := r.Latency[LatFirstSay.String()], r.Latency[LatDecision.String()]
	b.WriteString(`<div class="tiles">`)
	tile(&b, "", fmtMS(first.P99MS, first.Count), "first say p99")
	tile(&b, "", fmtMS(dec.P99MS, dec.Count), "decision p99")
	tile(&b, "", fmt.Sprintf("%.1f", r.Rates.Decisions), "decisions / s")
	if r.Rates.Tokens != nil {
		tile(&b, "", fmt.Sprintf("%.0f", *r.Rates.Tokens), "tokens / s")
	} else {
		tile(&b, "", "n/a", "tokens / s")
	}
	cls := "good"
	if errs > 0 {
		cls = "bad"
	}
	tile(&b, cls, fmt.Sprint(errs), "errors")
	tile(&b, "", mib(r.Resources.RSSPeakBytes), "peak RSS")
	b.WriteString("</div>\n")

	// Latency table.
	b.WriteString("<h2>Latency (steady phase)</h2>\n<table><tr><th>latency</th><th>count</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>mean ms</th></tr>\n")
	row := func(label string, s *LatencyStats) {
		if s == nil || s.Count == 0 {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>n/a</td><td></td><td></td><td></td><td></td><td></td></tr>\n", e(label))
			return
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>\n",
			e(label), s.Count, s.P50MS, s.P95MS, s.P99MS, s.MaxMS, s.MeanMS)
	}
	for i := range numLatencies {
		s := r.Latency[Latency(i).String()]
		row(latencyLabels[i], &s)
	}
	row("behaviour tick lag", r.TickLag)
	b.WriteString("</table>\n")

	xs := make([]float64, len(r.Series))
	for i, s := range r.Series {
		xs[i] = s.T
	}
	lat := func(name string, f func(LatencyStats) float64) []float64 {
		ys := make([]float64, len(r.Series))
		for i, s := range r.Series {
			l := s.Latency[name]
			ys[i] = math.NaN()
			if l.Count > 0 {
				ys[i] = f(l)
			}
		}
		return ys
	}
	p50 := func(l LatencyStats) float64 { return l.P50MS }
	p99 := func(l LatencyStats) float64 { return l.P99MS }
	field := func(f func(Sample) float64) []float64 {
		ys := make([]float64, len(r.Series))
		for i, s := range r.Series {
			ys[i] = f(s)
		}
		return ys
	}

	b.WriteString("<h2>Over time</h2>\n")
	ramp := r.Scenario.RampS
	chartCard(&b, full, "Player line → first say delta", "Per second: time from a player line to the first say delta of the reply (ms).",
		xs, ramp, "", []series{
			{name: "p50", color: "#7fb3d5", ys: lat("first_say", p50)},
			{name: "p95", color: "#2e86c1", ys: lat("first_say", func(l LatencyStats) float64 { return l.P95MS })},
			{name: "p99", color: "#1b2f6e", ys: lat("first_say", p99)},
		})
	b.WriteString(`<div class="two">`)
	chartCard(&b, half, "Player line → decision and act", "Per second, p99 (ms). Where they coincide the dashes show both.",
		xs, ramp, "", []series{
			{name: "decision p99", color: "#d35400", ys: lat("decision", p99)},
			{name: "act p99", color: "#7d3c98", ys: lat("act", p99), dash: "6 5"},
		})
	chartCard(&b, half, "Player line → whole line", "Per second: time to the final say, the whole utterance streamed (ms).",
		xs, ramp, "", []series{
			{name: "p50", color: "#76d7c4", ys: lat("final_say", p50)},
			{name: "p99", color: "#117a65", ys: lat("final_say", p99)},
		})
	b.WriteString("</div>\n<div class=\"two\">")
	chartCard(&b, half, "Act round trip", "Per second: final action_status sent → server ack (ms).", xs, ramp, "", []series{
		{name: "p50", color: "#82c99a", ys: lat("act_rtt", p50)},
		{name: "p99", color: "#1e8449", ys: lat("act_rtt", p99)},
	})
	chartCard(&b, half, "Throughput", "Per second: player lines sent, decisions and acts received.", xs, ramp, "", []series{
		{name: "lines", color: "#1f618d", ys: field(func(s Sample) float64 { return s.Lines })},
		{name: "decisions", color: "#d35400", ys: field(func(s Sample) float64 { return s.Decisions })},
		{name: "acts", color: "#7d3c98", ys: field(func(s Sample) float64 { return s.Acts }), dash: "6 5"},
	})
	b.WriteString("</div>\n<div class=\"two\">")
	chartCard(&b, half, "Messages", "Per second: perceives sent, messages received.", xs, ramp, "", []series{
		{name: "perceives out", color: "#117a65", ys: field(func(s Sample) float64 { return s.Perceives })},
		{name: "messages in", color: "#b7950b", ys: field(func(s Sample) float64 { return s.MsgsIn })},
	})
	chartCard(&b, half, "Errors and connections", "Errors per second; connections up.", xs, ramp, "", []series{
		{name: "errors/s", color: "#c0392b", ys: field(func(s Sample) float64 { return s.Errors })},
		{name: "connections", color: "#5d6d7e", ys: field(func(s Sample) float64 { return float64(s.Conns) })},
	})
	b.WriteString("</div>\n<div class=\"two\">")
	tokens := field(func(s Sample) float64 { return ptrOr(s.Tokens) })
	chartCard(&b, half, "Tokens per second", "Generated tokens, from decision stats.", xs, ramp,
		ifAllNaN(tokens, "n/a: no decision carried token counts"), []series{{name: "tokens/s", color: "#1f618d", ys: tokens}})
	reuse := field(func(s Sample) float64 { return ptrOr(s.CacheReuse) })
	chartCard(&b, half, "Prompt cache reuse", "Share of prompt tokens served from the KV cache (%).", xs, ramp,
		ifAllNaN(reuse, "n/a: no decision carried prompt token counts"), []series{{name: "reused %", color: "#1e8449", ys: reuse}})
	b.WriteString("</div>\n<div class=\"two\">")
	rss := field(func(s Sample) float64 {
		if s.RSSBytes == 0 {
			return math.NaN()
		}
		return float64(s.RSSBytes) / (1 << 20)
	})
	gor := field(func(s Sample) float64 {
		if s.Goroutines == 0 {
			return math.NaN()
		}
		return float64(s.Goroutines)
	})
	src := ""
	if r.Resources.Source != "" {
		src = " of " + r.Resources.Source
	}
	chartCard(&b, half, "Memory", "Resident memory (MiB)"+src+".", xs, ramp, ifAllNaN(rss, "n/a: not measured"),
		[]series{{name: "RSS MiB", color: "#c0392b", ys: rss}})
	chartCard(&b, half, "Goroutines", "Live goroutines"+src+".", xs, ramp, ifAllNaN(gor, "n/a: not measured"),
		[]series{{name: "goroutines", color: "#2e4053", ys: gor}})
	b.WriteString("</div>\n")
	cpu := field(func(s Sample) float64 {
		if s.CPUCores == 0 {
			return math.NaN()
		}
		return s.CPUCores
	})
	chartCard(&b, full, "CPU", "CPU seconds used per second"+src+" (1 = one core busy).", xs, ramp,
		ifAllNaN(cpu, "n/a: not measured"), []series{{name: "cores", color: "#a04000", ys: cpu}})

	if th := r.Thinks; th != nil {
		// What the minds did with their chances to think: under overload,
		// ambient thoughts should be refused before players' lines fail.
		b.WriteString("<h2>NPC thinks (whole run)</h2>\n")
		countTable(&b, "think", map[string]uint64{"started for players' lines": th.Player,
			"started for reactions, chat, ambient thoughts": th.Other,
			"ambient refused by the salience gate":          th.AmbientRefused, "left to the tree (model overloaded)": th.TreeOnly})
	}
	// Errors, drops, counts.
	b.WriteString("<h2>Errors and drops</h2>\n<div class=\"two\">")
	countTable(&b, "error", r.Errors)
	countTable(&b, "dropped", r.Drops)
	b.WriteString("</div>\n")
	if len(r.ServerErrors) > 0 {
		b.WriteString("<h2>Error messages the server sent</h2>\n")
		countTable(&b, "code", r.ServerErrors)
	}
	// Counts in two columns: the simulation's sends, then what came back.
	b.WriteString("<h2>Counts (steady phase)</h2>\n<div class=\"two\">")
	sent, got := map[string]uint64{}, map[string]uint64{}
	for k, v := range r.Counts {
		switch k {
		case "lines_sent", "lines_sent_total", "perceives_sent", "perceives_skipped", "perceive_events", "statuses_sent":
			sent[k] = v
		default:
			got[k] = v
		}
	}
	countTable(&b, "sent", sent)
	countTable(&b, "received", got)
	b.WriteString("</div>\n")
	if len(r.Notes) > 0 {
		b.WriteString("<ul class=\"notes\">")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "<li>%s</li>", e(n))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</main></body></html>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("loadtest: write html: %w", err)
	}
	return nil
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func ptrOr(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func ifAllNaN(ys []float64, msg string) string {
	for _, y := range ys {
		if !math.IsNaN(y) {
			return ""
		}
	}
	return msg
}

func fmtMS(v float64, n uint64) string {
	if n == 0 {
		return "n/a"
	}
	if v >= 1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func tile(b *strings.Builder, class, value, key string) {
	fmt.Fprintf(b, `<div class="tile %s"><div class="v">%s</div><div class="k">%s</div></div>`,
		class, html.EscapeString(value), html.EscapeString(key))
}

func countTable(b *strings.Builder, head string, m map[string]uint64) {
	fmt.Fprintf(b, "<table><tr><th>%s</th><th>count</th></tr>", html.EscapeString(head))
	n := 0
	for _, k := range sortedKeys(m) {
		if m[k] == 0 {
			continue
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%d</td></tr>", html.EscapeString(k), m[k])
		n++
	}
	if n == 0 {
		b.WriteString("<tr><td>none</td><td>0</td></tr>")
	}
	b.WriteString("</table>\n")
}

// series is one line of a chart; NaN values are gaps.
type series struct {
	name, color string
	ys          []float64
	dash        string // SVG stroke-dasharray; "" for a solid line
}

// chartSize is a chart's SVG viewBox. The SVG scales to its box, so the
// viewBox is about the box's width in pixels, to keep the text readable.
type chartSize struct{ w, h float64 }

var (
	full = chartSize{1040, 250}
	half = chartSize{520, 220}
)

// Chart margins, in SVG units.
const (
	padL, padR = 52.0, 12.0
	padT, padB = 10.0, 28.0
)

// chartCard writes a card with a title, a note, a legend and a line chart
// of ss over xs (seconds). The ramp is shaded. If empty is not "", the
// chart shows that message instead of lines.
func chartCard(b *strings.Builder, size chartSize, title, note string, xs []float64, rampS float64, empty string, ss []series) {
	e := html.EscapeString
	fmt.Fprintf(b, "<div class=\"card\"><h3>%s</h3><p class=\"note\">%s</p><div class=\"legend\">", e(title), e(note))
	for _, s := range ss {
		style := "background:" + s.color
		if s.dash != "" {
			style = "height:0;border-top:3px dashed " + s.color
		}
		fmt.Fprintf(b, `<span><i style="%s"></i>%s</span>`, style, e(s.name))
	}
	b.WriteString("</div>\n")
	b.WriteString(lineChart(size, xs, rampS, empty, ss))
	b.WriteString("</div>\n")
}

// lineChart renders the SVG of a line chart.
func lineChart(size chartSize, xs []float64, rampS float64, empty string, ss []series) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %g %g" xmlns="http://www.w3.org/2000/svg" role="img">`, size.w, size.h)
	plotW, plotH := size.w-padL-padR, size.h-padT-padB
	xMax := 1.0
	if n := len(xs); n > 0 {
		xMax = max(xMax, xs[n-1])
	}
	yMax := 0.0
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				yMax = max(yMax, y)
			}
		}
	}
	yTicks := niceTicks(yMax, 5)
	yTop := yTicks[len(yTicks)-1]
	px := func(x float64) float64 { return padL + plotW*x/xMax }
	py := func(y float64) float64 { return padT + plotH*(1-y/yTop) }

	if empty != "" { // a frame and the reason, no axes to misread
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f8f9fb" stroke="#e3e6ec"/>`, padL, padT, plotW, plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" style="font-size:15px">%s</text>`,
			padL+plotW/2, padT+plotH/2, html.EscapeString(empty))
		b.WriteString("</svg>\n")
		return b.String()
	}
	// Ramp shading, grid and axes.
	if rampS > 0 {
		w := px(min(rampS, xMax)) - padL
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#eef1f6"/>`, padL, padT, w, plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">ramp</text>`, padL+6, padT+14)
	}
	for _, t := range yTicks {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e3e6ec"/>`, padL, y, padL+plotW, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padL-6, y+4, tickLabel(t))
	}
	for _, t := range niceTicks(xMax, int(size.w/125)) {
		if t > xMax {
			break
		}
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c9ced8"/>`, x, padT+plotH, x, padT+plotH+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%ss</text>`, x, padT+plotH+18, tickLabel(t))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#8a93a6"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
	for _, s := range ss {
		var pts [][2]float64
		flush := func() {
			switch len(pts) {
			case 0:
			case 1: // a lone point between gaps: a dot
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, pts[0][0], pts[0][1], s.color)
			default:
				dash := ""
				if s.dash != "" {
					dash = ` stroke-dasharray="` + s.dash + `"`
				}
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round"%s points="`, s.color, dash)
				for i, p := range pts {
					if i > 0 {
						b.WriteByte(' ')
					}
					fmt.Fprintf(&b, "%.1f,%.1f", p[0], p[1])
				}
				b.WriteString(`"/>`)
			}
			pts = pts[:0]
		}
		for i, y := range s.ys {
			if i >= len(xs) || math.IsNaN(y) || math.IsInf(y, 0) {
				flush()
				continue
			}
			pts = append(pts, [2]float64{px(xs[i]), py(y)})
		}
		flush()
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceTicks returns 0 and about n evenly spaced round values up to at
// least top (steps of 1, 2, 2.5 or 5 times a power of ten).
func niceTicks(top float64, n int) []float64 {
	if !(top > 0) || math.IsInf(top, 0) {
		top = 1
	}
	n = max(n, 1)
	raw := top / float64(n)
	exp := math.Floor(math.Log10(raw))
	mag := math.Pow(10, exp)
	m := 10.0
	for _, c := range []float64{1, 2, 2.5, 5, 10} {
		if c*mag >= raw {
			m = c
			break
		}
	}
	// i·m scaled by a power of ten, dividing for negative powers, so that
	// ticks such as 0.6 come out as the closest float to 0.6.
	tick := func(i int) float64 {
		if exp < 0 {
			return float64(i) * m / math.Pow(10, -exp)
		}
		return float64(i) * m * mag
	}
	var ticks []float64
	for i := 0; ; i++ {
		t := tick(i)
		ticks = append(ticks, t)
		if t >= top {
			return ticks
		}
	}
}

// tickLabel formats an axis value briefly.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", math.Round(v*100)/100)
}
