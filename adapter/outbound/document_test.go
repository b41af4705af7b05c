package outbound

import (
	"net/http"
	"testing"
	"time"
)

func TestCacheFor(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		headers map[string]string
		want    time.Duration
	}{
		{nil, 0},
		{map[string]string{"Cache-Control": "max-age=300"}, 5 * time.Minute},
		{map[string]string{"Cache-Control": "public, max-age=60"}, time.Minute},
		{map[string]string{"Cache-Control": "max-age=999999999"}, MaxDocumentCache},
		{map[string]string{"Cache-Control": "no-store, max-age=300"}, 0},
		{map[string]string{"Cache-Control": "max-age=300, no-cache"}, 0},
		{map[string]string{"Cache-Control": "max-age=-1"}, 0},
		{map[string]string{"Cache-Control": "max-age=abc"}, 0},
		{map[string]string{"Expires": now.Add(time.Hour).Format(http.TimeFormat)}, time.Hour},
		{map[string]string{"Expires": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{map[string]string{"Expires": "0"}, 0},
		{map[string]string{"Expires": now.Add(72 * time.Hour).Format(http.TimeFormat)}, MaxDocumentCache},
		{map[string]string{"Cache-Control": "max-age=60", "Expires": now.Add(time.Hour).Format(http.TimeFormat)}, time.Minute},
	} {
		h := http.Header{}
		for k, v := range c.headers {
			h.Set(k, v)
		}
		if got := cacheFor(h, now); got != c.want {
			t.Errorf("%v: %v, want %v", c.headers, got, c.want)
		}
	}
}
