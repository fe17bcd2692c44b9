package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/anima-rt/anima/server"
)

// Local is a server running in this process on a loopback port, for the
// load tool's default target and for tests.
type Local struct {
	URL      string // ws://127.0.0.1:PORT/v1/ws
	Registry *prometheus.Registry
	Server   *server.Server
	cancel   context.CancelFunc
	done     chan error // Serve's result
}

// NewRegistry returns a registry with the Go and process collectors, as
// anima serve has: the one to hand StartLocal when the NPC host registers
// metrics of its own before the server starts.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// StartLocal serves a server built from opt on 127.0.0.1 on a free port.
// opt.Host is required; a nil Registry gets NewRegistry's, a nil Logger
// discards logs. Close stops it.
func StartLocal(opt server.Options) (*Local, error) {
	if opt.Registry == nil {
		opt.Registry = NewRegistry()
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := server.New(opt)
	if err != nil {
		return nil, fmt.Errorf("loadtest: start server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loadtest: start server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Local{URL: "ws://" + ln.Addr().String() + "/v1/ws", Registry: opt.Registry, Server: srv,
		cancel: cancel, done: make(chan error, 1)}
	// Serve returns once Close cancels ctx and the drain ends.
	go func() { l.done <- srv.Serve(ctx, ln) }()
	return l, nil
}

// Close shuts the server down and waits for it.
func (l *Local) Close() error {
	l.cancel()
	return <-l.done
}

// Gather gathers the server's metrics; it suits Config.ServerMetrics.
func (l *Local) Gather(context.Context) ([]*dto.MetricFamily, error) { return l.Registry.Gather() }

// SelfResources reads this process's RSS (VmRSS of /proc/self/status, or
// the Go runtime's Sys where there is no /proc), its goroutine count and its
// CPU time (getrusage);
// it suits Config.Resources for an in-process server, whose figures then
// include the load clients'.
func SelfResources(context.Context) (Resources, error) {
	r := Resources{Goroutines: runtime.NumGoroutine()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		r.RSSBytes = ms.Sys
		return r, nil
	}
	rss, err := vmRSS(data)
	if err != nil {
		return r, err
	}
	r.RSSBytes = rss
	return r, nil
}

// vmRSS finds the VmRSS line ("VmRSS:   123456 kB") in a /proc status
// file.
func vmRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("loadtest: /proc/self/status: VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || kb > 1<<40 {
			return 0, fmt.Errorf("loadtest: /proc/self/status: VmRSS %q", f[0])
		}
		return kb << 10, nil
	}
	return 0, errors.New("loadtest: /proc/self/status: no VmRSS line")
}

// maxMetricsBytes bounds a scraped /metrics page.
const maxMetricsBytes = 16 << 20

// MetricsURL returns the /metrics address of the server whose websocket
// endpoint is wsURL.
func MetricsURL(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", fmt.Errorf("loadtest: metrics url: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("loadtest: metrics url: scheme %q: want ws or wss", u.Scheme)
	}
	u.Path, u.RawQuery = "/metrics", ""
	return u.String(), nil
}

// Scraper returns a function that fetches and parses a Prometheus text page;
// it suits Config.ServerMetrics for a remote server.
func Scraper(metricsURL string) func(ctx context.Context) ([]*dto.MetricFamily, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	return func(ctx context.Context) ([]*dto.MetricFamily, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
		if err != nil {
			return nil, fmt.Errorf("loadtest: scrape: %w", err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("loadtest: scrape: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("loadtest: scrape %s: %s", metricsURL, resp.Status)
		}
		return parseMetrics(io.LimitReader(resp.Body, maxMetricsBytes))
	}
}

// parseMetrics parses the Prometheus text format.
func parseMetrics(r io.Reader) ([]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("loadtest: parse metrics: %w", err)
	}
	out := make([]*dto.MetricFamily, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out, nil
}
