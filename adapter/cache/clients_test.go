package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/domain"
)

type countingStore struct {
	mu      sync.Mutex
	calls   int
	clients map[string]domain.Client
	fail    error
}

func (s *countingStore) ClientByID(_ context.Context, id string) (domain.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return domain.Client{}, s.fail
	}
	c, ok := s.clients[id]
	if !ok {
		return domain.Client{}, domain.ErrNotFound
	}
	return c, nil
}

func TestClientsCacheIsBoundedInTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	store := &countingStore{clients: map[string]domain.Client{"a": {ID: "a", Name: "old"}}}
	c := NewClients(store, 5*time.Second, 10, func() time.Time { return now })
	ctx := context.Background()
	for range 3 {
		if got, err := c.ClientByID(ctx, "a"); err != nil || got.Name != "old" {
			t.Fatalf("got %+v %v", got, err)
		}
	}
	if store.calls != 1 {
		t.Fatalf("%d store reads for 3 lookups, want 1", store.calls)
	}
	// A change in the store (secret rotated by the CLI) shows after the TTL.
	store.clients["a"] = domain.Client{ID: "a", Name: "new"}
	now = now.Add(4 * time.Second)
	if got, _ := c.ClientByID(ctx, "a"); got.Name != "old" {
		t.Fatal("entry refreshed before its TTL")
	}
	now = now.Add(2 * time.Second)
	if got, _ := c.ClientByID(ctx, "a"); got.Name != "new" {
		t.Fatal("stale entry served past its TTL")
	}
	// A deleted client stops working within the TTL.
	delete(store.clients, "a")
	now = now.Add(6 * time.Second)
	if _, err := c.ClientByID(ctx, "a"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("deleted client: %v", err)
	}
}

func TestClientsCacheNeverCachesErrors(t *testing.T) {
	store := &countingStore{clients: map[string]domain.Client{}, fail: domain.ErrUnavailable}
	c := NewClients(store, time.Minute, 10, nil)
	for range 2 {
		if _, err := c.ClientByID(context.Background(), "x"); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatal(err)
		}
	}
	if store.calls != 2 {
		t.Fatalf("errors were cached: %d calls", store.calls)
	}
}

func TestClientsCacheStaysBounded(t *testing.T) {
	store := &countingStore{clients: map[string]domain.Client{}}
	for i := range 100 {
		id := string(rune('A' + i))
		store.clients[id] = domain.Client{ID: id}
	}
	c := NewClients(store, time.Minute, 10, nil)
	for id := range store.clients {
		c.ClientByID(context.Background(), id)
	}
	if len(c.entries) > 10 {
		t.Fatalf("%d entries kept, bound is 10", len(c.entries))
	}
}

func TestClientsRefreshClientReadsTheStore(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	store := &countingStore{clients: map[string]domain.Client{"a": {ID: "a", Name: "old"}}}
	c := NewClients(store, time.Minute, 10, func() time.Time { return now })
	ctx := context.Background()
	c.ClientByID(ctx, "a")
	store.clients["a"] = domain.Client{ID: "a", Name: "new"} // secret rotated by the CLI
	if got, err := c.RefreshClient(ctx, "a"); err != nil || got.Name != "new" {
		t.Fatalf("RefreshClient: %+v %v", got, err)
	}
	if got, _ := c.ClientByID(ctx, "a"); got.Name != "new" || store.calls != 2 {
		t.Fatalf("the refreshed entry is not the one served: %+v after %d reads", got, store.calls)
	}
	delete(store.clients, "a")
	if _, err := c.RefreshClient(ctx, "a"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("RefreshClient of a deleted client: %v", err)
	}
	if _, err := c.ClientByID(ctx, "a"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a deleted client is still served after RefreshClient: %v", err)
	}
}

// TestClientsForgetAllDropsEverything: the change feed's call, when some client
// changed elsewhere: every cached client is read again.
func TestClientsForgetAllDropsEverything(t *testing.T) {
	store := &countingStore{clients: map[string]domain.Client{"a": {ID: "a", Name: "old a"}, "b": {ID: "b", Name: "old b"}}}
	c := NewClients(store, time.Hour, 10, nil)
	ctx := context.Background()
	c.ClientByID(ctx, "a")
	c.ClientByID(ctx, "b")
	store.clients["a"] = domain.Client{ID: "a", Name: "new a"}
	delete(store.clients, "b")
	c.ForgetAll()
	if got, err := c.ClientByID(ctx, "a"); err != nil || got.Name != "new a" {
		t.Errorf("after ForgetAll: %+v %v, want the new a", got, err)
	}
	if _, err := c.ClientByID(ctx, "b"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a deleted client is served after ForgetAll: %v", err)
	}
	if store.calls != 4 {
		t.Errorf("%d store reads, want 4", store.calls)
	}
}

// gatedStore answers the first read of a client only when released, and counts reads.
type gatedStore struct {
	countingStore
	entered, release chan struct{}
}

func (s *gatedStore) ClientByID(ctx context.Context, id string) (domain.Client, error) {
	c, err := s.countingStore.ClientByID(ctx, id)
	if s.entered != nil {
		close(s.entered)
		<-s.release
		s.entered = nil
	}
	return c, err
}

// TestClientsReadRacingAChangeIsNotKept: a read from the store that began before an
// invalidation may hold the row the change replaced; it answers its own request but
// is not cached, or the stale row would outlive the change by a whole TTL.
func TestClientsReadRacingAChangeIsNotKept(t *testing.T) {
	store := &gatedStore{countingStore: countingStore{clients: map[string]domain.Client{"a": {ID: "a", Name: "old"}}},
		entered: make(chan struct{}), release: make(chan struct{})}
	c := NewClients(store, time.Hour, 10, nil)
	ctx := context.Background()
	done := make(chan domain.Client)
	go func() {
		got, _ := c.ClientByID(ctx, "a")
		done <- got
	}()
	<-store.entered // the read has the old row
	store.mu.Lock()
	store.clients["a"] = domain.Client{ID: "a", Name: "new"}
	store.mu.Unlock()
	c.ForgetAll() // the change feed, meanwhile
	close(store.release)
	if got := <-done; got.Name != "old" {
		t.Fatalf("the racing read answered %q", got.Name)
	}
	if got, _ := c.ClientByID(ctx, "a"); got.Name != "new" {
		t.Errorf("the stale read was cached: %q served after the change", got.Name)
	}
}

// TestClientsCachedClientReadsNothing: CachedClient answers what memory holds while
// it is fresh, and never reads the store.
func TestClientsCachedClientReadsNothing(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	store := &countingStore{clients: map[string]domain.Client{"a": {ID: "a", Name: "a"}}}
	c := NewClients(store, 5*time.Second, 10, func() time.Time { return now })
	if _, ok := c.CachedClient("a"); ok {
		t.Fatal("a client never read is held")
	}
	c.ClientByID(context.Background(), "a")
	if got, ok := c.CachedClient("a"); !ok || got.Name != "a" {
		t.Fatalf("after a read: %+v %v", got, ok)
	}
	now = now.Add(5 * time.Second)
	if _, ok := c.CachedClient("a"); ok {
		t.Fatal("an entry past its TTL is held")
	}
	if store.calls != 1 {
		t.Fatalf("%d store reads, want 1", store.calls)
	}
	off := NewClients(store, 0, 10, nil)
	off.ClientByID(context.Background(), "a")
	if _, ok := off.CachedClient("a"); ok {
		t.Fatal("a cache with TTL 0 holds a client")
	}
}
