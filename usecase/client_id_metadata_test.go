package usecase_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// fakeDocs serves client ID metadata documents from memory, counting fetches.
type fakeDocs struct {
	docs    map[string]string
	maxAge  time.Duration
	now     func() time.Time
	fetches atomic.Int64
}

func (f *fakeDocs) FetchClientMetadata(_ context.Context, u string) ([]byte, time.Time, error) {
	f.fetches.Add(1)
	d, ok := f.docs[u]
	if !ok {
		return nil, time.Time{}, errors.New("404")
	}
	return []byte(d), f.now().Add(f.maxAge), nil
}

type noForget struct{}

func (noForget) Forget(string) {}

func docJSON(t *testing.T, m map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(m)
	return string(b)
}

// TestClientIDMetadata: a document becomes a public client row, reused while its
// caching headers allow, refreshed after, and held to the rules; other client_ids
// pass through, and nothing is fetched while the feature is off.
func TestClientIDMetadata(t *testing.T) {
	f := newFixture(t)
	const id = "https://app.example.com/oauth/client.json"
	good := map[string]any{"client_id": id, "client_name": "App", "redirect_uris": []string{"http://127.0.0.1/cb"},
		"token_endpoint_auth_method": "none", "scope": "openid profile"}
	docs := &fakeDocs{docs: map[string]string{id: docJSON(t, good)}, maxAge: time.Minute, now: f.clock.Now}
	settings := usecase.ClientIDMetadataSettings{Enabled: true, Scopes: []string{"openid", "profile", "offline_access"}}
	m := usecase.NewClientIDMetadata(f.clients, f.clients, noForget{}, docs, f.clock, nil, nil, settings)

	c, err := m.ClientByID(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != id || !c.Public || c.Name != "App" || c.UnusedExpiresAt.IsZero() || len(c.RedirectURIs) != 1 {
		t.Fatalf("client %+v", c)
	}
	if _, err := m.ClientByID(f.ctx, id); err != nil || docs.fetches.Load() != 1 {
		t.Fatalf("within max-age: %v, %d fetches", err, docs.fetches.Load())
	}
	// Stale: fetched again, and a changed document updates the row.
	f.clock.Advance(2 * time.Minute)
	good["client_name"] = "App 2"
	docs.docs[id] = docJSON(t, good)
	if c, err = m.ClientByID(f.ctx, id); err != nil || c.Name != "App 2" || docs.fetches.Load() != 2 {
		t.Fatalf("stale: %+v %v, %d fetches", c, err, docs.fetches.Load())
	}
	if stored, _ := f.clients.ClientByID(f.ctx, id); stored.Name != "App 2" {
		t.Fatalf("the row was not updated: %+v", stored)
	}

	// Other client_ids go to the wrapped store; with the feature off, URLs too.
	if _, err := m.ClientByID(f.ctx, "nosuchclient"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	off := usecase.NewClientIDMetadata(f.clients, f.clients, noForget{}, docs, f.clock, nil, nil, usecase.ClientIDMetadataSettings{})
	before := docs.fetches.Load()
	if _, err := off.ClientByID(f.ctx, "https://other.example.com/c.json"); !errors.Is(err, domain.ErrNotFound) || docs.fetches.Load() != before {
		t.Fatalf("off: %v, fetched %d", err, docs.fetches.Load()-before)
	}

	for name, tc := range map[string]struct {
		url  string
		edit func(map[string]any)
		want string
	}{
		"other client_id": {"https://a.example.com/x.json", func(d map[string]any) { d["client_id"] = id }, "not its own URL"},
		"secret":          {"https://b.example.com/x.json", func(d map[string]any) { d["client_secret"] = "s" }, "client secret"},
		"confidential":    {"https://c.example.com/x.json", func(d map[string]any) { d["token_endpoint_auth_method"] = "private_key_jwt" }, "public clients"},
		"no redirect":     {"https://d.example.com/x.json", func(d map[string]any) { delete(d, "redirect_uris") }, "redirect_uris"},
		"scope beyond":    {"https://e.example.com/x.json", func(d map[string]any) { d["scope"] = "openid admin" }, "scope"},
		"client creds":    {"https://f.example.com/x.json", func(d map[string]any) { d["grant_types"] = []string{"client_credentials"} }, "grant type"},
		"bad redirect":    {"https://g.example.com/x.json", func(d map[string]any) { d["redirect_uris"] = []string{"javascript:alert(1)"} }, "redirect"},
		"root path":       {"https://h.example.com/", nil, "no path"},
		"dot segment":     {"https://i.example.com/a/../x.json", nil, "dot segment"},
		"not json":        {"https://j.example.com/x.json", nil, "JSON"},
		"fragment":        {"https://k.example.com/x.json#f", nil, "fragment"},
		"too long":        {"https://l.example.com/" + strings.Repeat("a", 260), nil, "too long"},
		"not found":       {"https://m.example.com/missing.json", nil, "404"},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "not json" {
				docs.docs[tc.url] = "<html>"
			} else if tc.edit != nil || name != "not found" {
				d := map[string]any{"client_id": tc.url, "redirect_uris": []string{"http://127.0.0.1/cb"}}
				if tc.edit != nil {
					tc.edit(d)
				}
				docs.docs[tc.url] = docJSON(t, d)
			}
			_, err := m.ClientByID(f.ctx, tc.url)
			if !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrNotFound saying %q", err, tc.want)
			}
			if _, err := f.clients.ClientByID(f.ctx, tc.url); !errors.Is(err, domain.ErrNotFound) {
				t.Fatalf("a refused document left a client row")
			}
		})
	}
}

// blockingDocs holds every fetch until release is closed.
type blockingDocs struct {
	started chan struct{}
	release chan struct{}
	fetches atomic.Int64
}

func (b *blockingDocs) FetchClientMetadata(ctx context.Context, u string) ([]byte, time.Time, error) {
	b.fetches.Add(1)
	b.started <- struct{}{}
	<-b.release
	return nil, time.Time{}, errors.New("slow and then nothing")
}

// TestClientIDMetadata_RefusalsAreKeptAndFetchesBounded (SECURITY S57): a refused
// document is not fetched again for RefusedDocumentTTL, whoever names it; and no
// more than MaxConcurrentFetches documents are fetched at once, the next request
// being refused at once instead of waiting on yet another slow server.
func TestClientIDMetadata_RefusalsAreKeptAndFetchesBounded(t *testing.T) {
	f := newFixture(t)
	settings := usecase.ClientIDMetadataSettings{Enabled: true}
	docs := &fakeDocs{docs: map[string]string{}, maxAge: time.Minute, now: f.clock.Now}
	m := usecase.NewClientIDMetadata(f.clients, f.clients, noForget{}, docs, f.clock, nil, nil, settings)
	const missing = "https://gone.example.com/client.json"
	for range 5 {
		if _, err := m.ClientByID(f.ctx, missing); !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), "404") {
			t.Fatalf("missing document: %v", err)
		}
	}
	if n := docs.fetches.Load(); n != 1 {
		t.Fatalf("a refused document was fetched %d times within %s", n, usecase.RefusedDocumentTTL)
	}
	// Once the refusal is old, the document is asked for again (it may exist now).
	docs.docs[missing] = docJSON(t, map[string]any{"client_id": missing, "redirect_uris": []string{"http://127.0.0.1/cb"}})
	f.clock.Advance(usecase.RefusedDocumentTTL + time.Second)
	if _, err := m.ClientByID(f.ctx, missing); err != nil || docs.fetches.Load() != 2 {
		t.Fatalf("after the refusal expired: %v, %d fetches", err, docs.fetches.Load())
	}

	slow := &blockingDocs{started: make(chan struct{}, usecase.MaxConcurrentFetches), release: make(chan struct{})}
	b := usecase.NewClientIDMetadata(f.clients, f.clients, noForget{}, slow, f.clock, nil, nil, settings)
	done := make(chan error, usecase.MaxConcurrentFetches)
	for i := range usecase.MaxConcurrentFetches {
		go func() {
			_, err := b.ClientByID(f.ctx, "https://slow"+strconv.Itoa(i)+".example.com/c.json")
			done <- err
		}()
	}
	for range usecase.MaxConcurrentFetches {
		<-slow.started
	}
	_, err := b.ClientByID(f.ctx, "https://one-more.example.com/c.json")
	if !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("a fetch beyond the bound: %v", err)
	}
	if n := slow.fetches.Load(); n != usecase.MaxConcurrentFetches {
		t.Fatalf("%d fetches started, want %d", n, usecase.MaxConcurrentFetches)
	}
	close(slow.release)
	for range usecase.MaxConcurrentFetches {
		if err := <-done; !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("slow fetch: %v", err)
		}
	}
}
