package loadtest

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseMetrics feeds a remote server's /metrics page, which is outside
// input, through everything the report reads from it: no panic, whatever
// the page holds.
func FuzzParseMetrics(f *testing.F) {
	f.Add(metricsBefore)
	f.Add(metricsAfter)
	f.Add("# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1\nx_count 1\n")
	f.Fuzz(func(t *testing.T, page string) {
		fams, err := parseMetrics(strings.NewReader(page))
		if err != nil {
			return
		}
		counterDelta(nil, fams, metricQueueDrops, "type")
		counterDelta(fams, fams, metricErrors, "code")
		histogramDelta(nil, fams, metricTickLag)
		ResourcesFromMetrics(fams)
	})
}

// FuzzVMRSS: /proc/self/status is read as text; a malformed one is an
// error, never a panic or a huge number.
func FuzzVMRSS(f *testing.F) {
	f.Add([]byte("VmRSS:\t  123456 kB\n"))
	f.Add([]byte("VmRSS: kB\n"))
	f.Fuzz(func(t *testing.T, status []byte) {
		v, err := vmRSS(status)
		if err == nil && (v > 1<<50 || !bytes.Contains(status, []byte("VmRSS:"))) {
			t.Errorf("vmRSS(%q) = %d; want an error", status, v)
		}
	})
}
