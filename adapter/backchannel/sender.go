// Package backchannel delivers OpenID Connect Back-Channel Logout 1.0 logout tokens
// to relying parties over HTTP; it implements usecase.LogoutSender.
package backchannel

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Sender POSTs logout tokens (§2.5) with its own HTTP clients: they follow no
// redirect (a logout token goes where the client registered, nowhere else) and read
// at most a little of the answer. A URI a registrant chose goes through the
// untrusted client, which must reach public addresses only (SECURITY S57).
type Sender struct {
	trusted, untrusted Doer
}

// Doer sends HTTP requests: an *http.Client, or adapter/outbound's for URIs a
// registrant chose.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// NewSender builds the sender; callers bound each delivery by its context.
func NewSender(untrusted Doer) *Sender {
	return &Sender{
		trusted: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		untrusted: untrusted,
	}
}

// SendLogoutToken POSTs logout_token to uri; nil when the client answered 200 or 204.
// untrusted: a dynamically registered client chose uri.
func (s *Sender) SendLogoutToken(ctx context.Context, uri, token string, untrusted bool) error {
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("logout request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := s.trusted
	if untrusted {
		client = s.untrusted
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post logout token: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("the client answered %d", resp.StatusCode)
	}
	return nil
}
