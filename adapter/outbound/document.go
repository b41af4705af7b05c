package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits of a fetched client ID metadata document (SECURITY S57).
const (
	// MaxDocumentBytes bounds the body: 5 KiB.
	MaxDocumentBytes = 5 << 10
	// MaxDocumentCache bounds how long an answer's caching headers may keep it.
	MaxDocumentCache = 24 * time.Hour
)

// Errors of Fetch, wrapped; the description a client sees names the kind only.
var (
	ErrDocumentTooLarge = errors.New("the document is larger than 5 KiB")
	ErrDocumentRedirect = errors.New("the document answered with a redirect, which is not followed")
	ErrDocumentStatus   = errors.New("the document did not answer 200")
)

// DocumentFetcher fetches small JSON documents at URLs an untrusted party chose
// (client ID metadata documents): https only, the Policy's addresses only (checked
// before DNS for IP literals and at every connect), no redirects, at most
// MaxDocumentBytes, within the Policy's timeout (5 s).
type DocumentFetcher struct {
	policy Policy
	client *http.Client
	now    func() time.Time
}

// NewDocumentFetcher returns a fetcher held to p.
func NewDocumentFetcher(p Policy) *DocumentFetcher {
	return &DocumentFetcher{policy: p, client: NewClient(p), now: time.Now}
}

// FetchClientMetadata GETs rawURL and returns its body and until when its HTTP
// caching headers (Cache-Control max-age, no-store, no-cache; Expires) let it be
// reused, at most MaxDocumentCache from now; now itself when they say nothing.
func (f *DocumentFetcher) FetchClientMetadata(ctx context.Context, rawURL string) ([]byte, time.Time, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" {
		return nil, time.Time{}, errors.New("not an https URL")
	}
	if err := f.policy.CheckURL(rawURL); err != nil {
		return nil, time.Time{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, time.Time{}, ErrDocumentRedirect
	case resp.StatusCode != http.StatusOK:
		return nil, time.Time{}, fmt.Errorf("%w (%d)", ErrDocumentStatus, resp.StatusCode)
	case resp.ContentLength > MaxDocumentBytes:
		return nil, time.Time{}, ErrDocumentTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentBytes+1))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read the document: %w", err)
	}
	if len(body) > MaxDocumentBytes {
		return nil, time.Time{}, ErrDocumentTooLarge
	}
	now := f.now()
	return body, now.Add(cacheFor(resp.Header, now)), nil
}

// cacheFor is how long the caching headers of an answer let it be reused (RFC 9111
// §4.2.1: max-age over Expires), within [0, MaxDocumentCache].
func cacheFor(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	maxAge := false
	for _, cc := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(cc, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
				if err != nil || n < 0 {
					return 0
				}
				d, maxAge = time.Duration(min(n, int64(MaxDocumentCache/time.Second)))*time.Second, true
			}
		}
	}
	if !maxAge {
		if e := h.Get("Expires"); e != "" {
			t, err := http.ParseTime(e)
			if err != nil {
				return 0
			}
			d = t.Sub(now)
		}
	}
	return max(0, min(d, MaxDocumentCache))
}
