package cache

import (
	"context"
	"sync"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Clients is a read-through cache in front of a usecase.ClientStore.
type Clients struct {
	next    usecase.ClientStore
	ttl     time.Duration
	maxSize int
	now     func() time.Time

	mu      sync.RWMutex
	entries map[string]clientEntry
	// gen counts the invalidations (Forget, ForgetAll). A read from the store that
	// began before one is not cached: it may hold what the change replaced.
	gen uint64
}

type clientEntry struct {
	client  domain.Client
	expires time.Time
}

var (
	_ usecase.ClientStore     = (*Clients)(nil)
	_ usecase.ClientRefresher = (*Clients)(nil)
)

// NewClients caches up to maxSize clients of next for ttl each; ttl 0 disables caching.
func NewClients(next usecase.ClientStore, ttl time.Duration, maxSize int, now func() time.Time) *Clients {
	if now == nil {
		now = time.Now
	}
	return &Clients{next: next, ttl: ttl, maxSize: maxSize, now: now, entries: map[string]clientEntry{}}
}

// ClientByID answers from memory while the entry is fresh, else from the store.
// Errors (not found, outages) are never cached.
func (c *Clients) ClientByID(ctx context.Context, id string) (domain.Client, error) {
	if c.ttl <= 0 {
		return c.next.ClientByID(ctx, id)
	}
	now := c.now()
	held, gen, ok := c.held(id, now)
	if ok {
		return held, nil
	}
	client, err := c.next.ClientByID(ctx, id)
	if err != nil {
		return domain.Client{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		// Invalidated while we read: what we read may be the old row. Answer it (it
		// was current when this request began) but do not keep it.
		return client, nil
	}
	if len(c.entries) >= c.maxSize {
		// Drop expired entries; if all are fresh, start over: a flood of distinct
		// valid ids costs database reads, never unbounded memory.
		for k, v := range c.entries {
			if !now.Before(v.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.maxSize {
			clear(c.entries)
		}
	}
	c.entries[id] = clientEntry{client: client, expires: now.Add(c.ttl)}
	return client, nil
}

// CachedClient returns the client while its entry is fresh, without reading the
// store; ok is false when it holds none (or caching is off).
func (c *Clients) CachedClient(id string) (client domain.Client, ok bool) {
	if c.ttl <= 0 {
		return domain.Client{}, false
	}
	client, _, ok = c.held(id, c.now())
	return client, ok
}

// held returns id's client if its entry is fresh at now (else ok is false and the
// client empty), and the count of invalidations read with it.
func (c *Clients) held(id string, now time.Time) (client domain.Client, gen uint64, ok bool) {
	c.mu.RLock()
	e, found := c.entries[id]
	gen = c.gen
	c.mu.RUnlock()
	if !found || !now.Before(e.expires) {
		return domain.Client{}, gen, false
	}
	return e.client, gen, true
}

// Forget drops one client, for changes made by this process.
func (c *Clients) Forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.gen++
	c.mu.Unlock()
}

// ForgetAll drops every client: the change feed calls it when any client changed, by
// this instance, another one or the CLI. The feed says that clients changed, not
// which (a counter per topic is all SQLite and MariaDB are polled for), and client
// changes are rare admin writes: each costs one database read per client in use,
// once, on each instance.
func (c *Clients) ForgetAll() {
	c.mu.Lock()
	clear(c.entries)
	c.gen++
	c.mu.Unlock()
}

// RefreshClient reads the client from the store, bypassing and then renewing its
// entry: client authentication calls it when a client held here fails, so that a
// secret rotated elsewhere works at once and every failure costs one store read.
func (c *Clients) RefreshClient(ctx context.Context, id string) (domain.Client, error) {
	c.Forget(id)
	return c.ClientByID(ctx, id)
}
