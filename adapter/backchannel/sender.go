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

// Sender POSTs logout tokens (§2.5) with its own HTTP client: it follows no redirect
// (a logout token goes where the client registered, nowhere else) and reads at most a
// little of the answer.
type Sender struct {
	client *http.Client
}

// NewSender builds the sender; callers bound each delivery by its context.
func NewSender() *Sender {
	return &Sender{client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// SendLogoutToken POSTs logout_token to uri; nil when the client answered 200 or 204.
func (s *Sender) SendLogoutToken(ctx context.Context, uri, token string) error {
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("logout request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
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
