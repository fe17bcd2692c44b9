package server

import "github.com/prometheus/client_golang/prometheus"

// metrics are the server's Prometheus series, registered on the registry the
// caller passes in (never the global one, so tests and embedders can run
// several servers in one process).
type metrics struct {
	connections prometheus.Gauge
	sessions    prometheus.Gauge
	npcs        prometheus.Gauge
	msgsIn      *prometheus.CounterVec // by type
	msgsOut     *prometheus.CounterVec // by type
	errors      *prometheus.CounterVec // by code
	queueDrops  *prometheus.CounterVec // by type
	replayed    prometheus.Counter
	expired     prometheus.Counter
	closed      *prometheus.CounterVec // abnormal closes by reason
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "anima", Name: "connections", Help: "Open websocket connections."}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "anima", Name: "sessions", Help: "Live sessions, attached or in their grace period."}),
		npcs: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "anima", Name: "npcs", Help: "Spawned NPCs across all sessions."}),
		msgsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "anima", Name: "messages_in_total", Help: "Client messages received, by type."}, []string{"type"}),
		msgsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "anima", Name: "messages_out_total", Help: "Server messages written, by type."}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "anima", Name: "errors_total", Help: "Error messages sent to clients, by code."}, []string{"code"}),
		queueDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "anima", Name: "queue_drops_total", Help: "Droppable messages dropped because a client's outbound queue was full, by type."}, []string{"type"}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "anima", Name: "replayed_total", Help: "Sequenced messages replayed to resuming clients."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "anima", Name: "sessions_expired_total", Help: "Sessions dropped after their grace period."}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "anima", Name: "connections_closed_total", Help: "Connections the server closed, by reason."}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.connections, m.sessions, m.npcs, m.msgsIn, m.msgsOut,
		m.errors, m.queueDrops, m.replayed, m.expired, m.closed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// NewTickLag returns anima_behavior_tick_lag_seconds, the histogram of how
// late the NPC minds' behaviour tree ticks ran (mind.Config.TickLag
// observes into it; see behavior.SchedulerConfig.Lag). It is returned
// unregistered because the minds need it before their server exists:
// register it on the server's registry. A tick is due every 10 ms at the
// defaults, so the buckets run from half a millisecond, for a node keeping
// up, to seconds, for one that has fallen behind.
func NewTickLag() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "anima", Name: "behavior_tick_lag_seconds",
		Help:    "How late each step of the behaviour tree scheduler finished its ticks, from when it was due.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
}
