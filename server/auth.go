package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// keyring checks API keys. It compares SHA-256 digests in constant time, so
// neither a key's content nor its length leaks through timing. Immutable
// after construction; safe for concurrent use.
type keyring struct {
	digests [][sha256.Size]byte
}

func newKeyring(keys []string) *keyring {
	k := &keyring{}
	for _, key := range keys {
		k.digests = append(k.digests, sha256.Sum256([]byte(key)))
	}
	return k
}

// open reports whether no keys are configured (unauthenticated, loopback only).
func (k *keyring) open() bool { return len(k.digests) == 0 }

// valid reports whether key is one of the configured keys.
func (k *keyring) valid(key string) bool {
	d := sha256.Sum256([]byte(key))
	ok := 0
	for i := range k.digests {
		ok |= subtle.ConstantTimeCompare(d[:], k.digests[i][:])
	}
	return ok == 1
}

// bearerToken returns the key of an "Authorization: Bearer KEY" header, if any.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

// IsLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1,
// or "localhost"); an unspecified host (":7777", "0.0.0.0") is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
