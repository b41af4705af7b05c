package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/domain"
)

type countingStore struct {
	calls   int
	clients map[string]domain.Client
	fail    error
}

func (s *countingStore) ClientByID(_ context.Context, id string) (domain.Client, error) {
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
