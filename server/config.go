package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("30s", "1m30s"), so config files stay readable.
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Config is everything an operator can tune. The zero value of any field
// means "use the default" (see DefaultConfig); Validate rejects values that
// cannot work.
type Config struct {
	// APIKeys are the keys a client may present (Authorization: Bearer KEY
	// or hello's api_key). Empty means unauthenticated, which the server only
	// allows on a loopback listener.
	APIKeys []string `json:"api_keys,omitempty"`

	// Grace is how long a session whose connection dropped keeps its NPCs
	// and its replay buffer, waiting for a resume.
	Grace Duration `json:"grace,omitempty"`

	// ReadTimeout is the read deadline: a connection that sends nothing
	// (no message, no pong) for this long is closed. Pings go out every
	// PingInterval, which must be shorter.
	ReadTimeout  Duration `json:"read_timeout,omitempty"`
	PingInterval Duration `json:"ping_interval,omitempty"`
	// WriteTimeout bounds one frame write; a client that cannot take a frame
	// in this long is closed (it resumes and gets what it missed by replay).
	WriteTimeout Duration `json:"write_timeout,omitempty"`

	// MaxMessageBytes is the largest message the server accepts; a larger
	// one gets error too_large and the connection goes on. MaxFrameBytes is
	// the websocket read limit: a frame larger than that is not read at all
	// and closes the connection with 1009 (message too big). It must be at
	// least MaxMessageBytes.
	MaxMessageBytes int64 `json:"max_message_bytes,omitempty"`
	MaxFrameBytes   int64 `json:"max_frame_bytes,omitempty"`

	// RatePerSecond and RateBurst shape the token bucket of messages a
	// connection may send; a message over the rate gets error rate_limited.
	RatePerSecond float64 `json:"rate_per_second,omitempty"`
	RateBurst     int     `json:"rate_burst,omitempty"`

	// MaxNPCs is the per-session NPC quota.
	MaxNPCs int `json:"max_npcs,omitempty"`
	// MaxSessions bounds live sessions (attached or in grace) server-wide.
	MaxSessions int `json:"max_sessions,omitempty"`

	// QueueSize is the per-connection outbound queue length; ReplaySize is
	// the number of sequenced messages a session keeps for resume.
	QueueSize  int `json:"queue_size,omitempty"`
	ReplaySize int `json:"replay_size,omitempty"`

	// AbuseErrors errors within AbuseWindow close the connection with 1008
	// (policy violation). One bad frame is a bug; a stream of them is abuse.
	AbuseErrors int      `json:"abuse_errors,omitempty"`
	AbuseWindow Duration `json:"abuse_window,omitempty"`

	// ShutdownTimeout bounds the drain on shutdown: queues still unflushed
	// after it are abandoned and their connections closed.
	ShutdownTimeout Duration `json:"shutdown_timeout,omitempty"`
}

// DefaultConfig returns the defaults that Validate fills in for zero fields.
func DefaultConfig() Config {
	return Config{
		Grace:           Duration(60 * time.Second),
		ReadTimeout:     Duration(60 * time.Second),
		PingInterval:    Duration(20 * time.Second),
		WriteTimeout:    Duration(10 * time.Second),
		MaxMessageBytes: 64 << 10,
		MaxFrameBytes:   1 << 20,
		RatePerSecond:   200,
		RateBurst:       400,
		MaxNPCs:         256,
		MaxSessions:     10000,
		QueueSize:       256,
		ReplaySize:      1024,
		AbuseErrors:     50,
		AbuseWindow:     Duration(10 * time.Second),
		ShutdownTimeout: Duration(10 * time.Second),
	}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *Duration, def Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.Grace, d.Grace)
	set(&c.ReadTimeout, d.ReadTimeout)
	set(&c.PingInterval, d.PingInterval)
	set(&c.WriteTimeout, d.WriteTimeout)
	set(&c.AbuseWindow, d.AbuseWindow)
	set(&c.ShutdownTimeout, d.ShutdownTimeout)
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = max(d.MaxFrameBytes, c.MaxMessageBytes)
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = d.RatePerSecond
	}
	if c.RateBurst == 0 {
		c.RateBurst = d.RateBurst
	}
	if c.MaxNPCs == 0 {
		c.MaxNPCs = d.MaxNPCs
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = d.MaxSessions
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.ReplaySize == 0 {
		c.ReplaySize = d.ReplaySize
	}
	if c.AbuseErrors == 0 {
		c.AbuseErrors = d.AbuseErrors
	}
	return c
}

// Validate fills defaults and reports the first setting that cannot work.
func (c Config) Validate() (Config, error) {
	c = c.withDefaults()
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Grace > 0, "grace %v must be positive", time.Duration(c.Grace))
	check(c.ReadTimeout > 0, "read_timeout %v must be positive", time.Duration(c.ReadTimeout))
	check(c.PingInterval > 0 && c.PingInterval < c.ReadTimeout,
		"ping_interval %v must be positive and shorter than read_timeout %v",
		time.Duration(c.PingInterval), time.Duration(c.ReadTimeout))
	check(c.WriteTimeout > 0, "write_timeout %v must be positive", time.Duration(c.WriteTimeout))
	check(c.MaxMessageBytes > 0, "max_message_bytes %d must be positive", c.MaxMessageBytes)
	check(c.MaxFrameBytes >= c.MaxMessageBytes,
		"max_frame_bytes %d must be at least max_message_bytes %d", c.MaxFrameBytes, c.MaxMessageBytes)
	check(c.RatePerSecond > 0, "rate_per_second %v must be positive", c.RatePerSecond)
	check(c.RateBurst > 0, "rate_burst %d must be positive", c.RateBurst)
	check(c.MaxNPCs > 0, "max_npcs %d must be positive", c.MaxNPCs)
	check(c.MaxSessions > 0, "max_sessions %d must be positive", c.MaxSessions)
	check(c.QueueSize > 0, "queue_size %d must be positive", c.QueueSize)
	check(c.ReplaySize > 0, "replay_size %d must be positive", c.ReplaySize)
	check(c.AbuseErrors > 0, "abuse_errors %d must be positive", c.AbuseErrors)
	check(c.AbuseWindow > 0, "abuse_window %v must be positive", time.Duration(c.AbuseWindow))
	check(c.ShutdownTimeout > 0, "shutdown_timeout %v must be positive", time.Duration(c.ShutdownTimeout))
	for i, k := range c.APIKeys {
		check(strings.TrimSpace(k) != "", "api_keys[%d] is empty", i)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("server: config: %w", err)
	}
	return c, nil
}

// LoadConfig reads a JSON config file. Unknown fields are an error, so a
// misspelt setting is caught instead of silently ignored.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("server: load config: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("server: load config %s: %w", path, err)
	}
	return c, nil
}

// KeysFromEnv splits a comma-separated key list (ANIMA_API_KEYS), dropping
// blanks and surrounding spaces.
func KeysFromEnv(v string) []string {
	var keys []string
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}
