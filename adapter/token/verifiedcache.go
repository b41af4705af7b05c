package token

import (
	"slices"
	"sync"
	"time"

	"gatehouse/domain"
)

// verifiedCacheSize bounds the verified-token cache: a few MiB at most.
const verifiedCacheSize = 8192

// verifiedCache remembers access tokens whose signature and claims were verified, by
// the SHA-256 of their exact compact form, so that a resource server introspecting
// the same token on every request, or a client calling /userinfo again, does not pay
// for an ECDSA or RSA verification each time (it was a third of introspection's CPU).
//
// What a signature proves about a given string never changes, so the entry holds
// until the token expires. What can change is checked on every hit: expiry (at exp,
// as the verifier checks it) and whether the key that signed it is still published. A
// token differing in one byte hashes elsewhere and is verified in full. Revocation is
// not the verifier's business: the use cases check the deny-list on every call.
type verifiedCache struct {
	mu  sync.RWMutex
	m   map[[32]byte]verifiedEntry
	max int
}

type verifiedEntry struct {
	kid string
	at  domain.AccessToken
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{m: make(map[[32]byte]verifiedEntry), max: max}
}

// get returns a copy of the cached token when it is still within its lifetime and
// its key is still published at now.
func (c *verifiedCache) get(key [32]byte, now time.Time, ring *KeyRing) (domain.AccessToken, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok {
		return domain.AccessToken{}, false
	}
	if !now.Before(e.at.ExpiresAt) || !ring.publishes(e.kid, now) {
		c.mu.Lock()
		delete(c.m, key)
		c.mu.Unlock()
		return domain.AccessToken{}, false
	}
	at := e.at
	at.Audience, at.Scope = slices.Clone(at.Audience), slices.Clone(at.Scope)
	return at, true
}

// put remembers a verified token. When full it first drops the expired entries and,
// if that frees too little, an arbitrary tenth (Go's map order is unspecified).
func (c *verifiedCache) put(key [32]byte, kid string, at domain.AccessToken, now time.Time) {
	at.Audience, at.Scope = slices.Clone(at.Audience), slices.Clone(at.Scope)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if e.at.ExpiresAt.Before(now) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max-c.max/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = verifiedEntry{kid: kid, at: at}
}

// publishes reports, without reloading, whether the ring's current snapshot has the
// key kid published at now. A key that left since the token was cached makes the
// cache miss, and the full verification decide.
func (r *KeyRing) publishes(kid string, now time.Time) bool {
	s := r.snap.Load()
	if s == nil {
		return false
	}
	k := s.byKID[kid]
	return k != nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}
