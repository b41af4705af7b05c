package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// codeRedirectURI is registered for the code-flow client. Nothing listens there and
// nothing is sent there: the harness reads the code from the redirect's Location.
const codeRedirectURI = "http://127.0.0.1:9/callback"

// authCodeWorkload measures the authorization-code exchange when this build serves the
// authorization endpoint (discovery's authorization_endpoint). Codes are minted first,
// as a browser would: the authorize request, the login form once (the session cookie
// covers the rest), consent when shown; then each code is redeemed once with PKCE.
func (r *run) authCodeWorkload(ctx context.Context, fx *fixture) (*Workload, int, string, error) {
	flow, first, note := fx.newCodeFlow(ctx, "openid")
	if flow == nil {
		return nil, 0, note, nil
	}
	codes, err := mint(ctx, r.cfg, "authorization codes", r.cfg.CodePool-1, 4, r.cfg.MintBudget, flow.code)
	if err != nil {
		return nil, 0, "", err
	}
	codes = append(codes, first)
	var next = make(chan string, len(codes))
	for _, c := range codes {
		next <- c
	}
	close(next)
	h := fx.web.basic()
	tokenURL := fx.srv.URL + "/oauth/token"
	return &Workload{Name: ScenarioAuthCode,
		Next: func(int) (Request, bool) {
			c, ok := <-next
			if !ok {
				return Request{}, false
			}
			return Request{Method: http.MethodPost, URL: tokenURL, Header: h, Body: flow.exchangeBody(c)}, true
		},
		Check: containsCheck(`"access_token"`),
	}, fx.srv.PID(), fmt.Sprintf("pool of %d codes, PKCE S256, scope openid (ID token signed ES256, the client's --id-token-alg)", len(codes)), nil
}

// newCodeFlow logs the fast user in through the authorization endpoint and returns the
// flow and its first code; when the build has no such endpoint, or the walk fails, it
// returns nil and says why.
func (fx *fixture) newCodeFlow(ctx context.Context, scope string) (*codeFlow, string, string) {
	ep := fx.endpoint("authorization_endpoint")
	if ep == "" {
		return nil, "", "not available in this build (no authorization_endpoint in discovery)"
	}
	if fx.web.ID == "" {
		return nil, "", "not available in this build (could not register a code-flow client)"
	}
	// The issuer is the server's own loopback URL, so the endpoint is on loopback too;
	// code() refuses anything else.
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, "", err.Error()
	}
	browser := NewClient(8, 30*time.Second)
	browser.Jar = jar
	verifier := RandomSecret(64)
	sum := sha256.Sum256([]byte(verifier))
	flow := &codeFlow{client: browser, authorize: ep, clientID: fx.web.ID, scope: scope,
		verifier: verifier, challenge: base64.RawURLEncoding.EncodeToString(sum[:]),
		username: fx.fastUser, password: fx.password}
	// Log in once, serially, so the parallel minting after it shares one session.
	first, err := flow.code(ctx)
	if err != nil {
		return nil, "", fmt.Sprintf("skipped: the authorization endpoint exists but the harness could not get a code: %v", err)
	}
	return flow, first, ""
}

// exchangeBody is the token request redeeming code.
func (f *codeFlow) exchangeBody(code string) []byte {
	return []byte("grant_type=authorization_code&code=" + url.QueryEscape(code) + "&redirect_uri=" +
		url.QueryEscape(codeRedirectURI) + "&code_verifier=" + url.QueryEscape(f.verifier))
}

// codeFlow walks the authorization endpoint like a browser without JavaScript.
type codeFlow struct {
	client              *http.Client
	authorize, clientID string
	scope               string
	verifier, challenge string
	username, password  string
}

// code returns a fresh authorization code.
func (f *codeFlow) code(ctx context.Context) (string, error) {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {f.clientID},
		"redirect_uri":          {codeRedirectURI},
		"scope":                 {f.scope},
		"state":                 {RandomSecret(16)},
		"code_challenge":        {f.challenge},
		"code_challenge_method": {"S256"},
	}
	u := f.authorize + "?" + q.Encode()
	method, body := http.MethodGet, ""
	for hop := 0; hop < 12; hop++ {
		if err := CheckLoopback(u); err != nil && !strings.HasPrefix(u, codeRedirectURI) {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		if err != nil {
			return "", err
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := f.client.Do(req)
		if err != nil {
			return "", err
		}
		page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		base := resp.Request.URL
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := base.Parse(resp.Header.Get("Location"))
			if err != nil {
				return "", fmt.Errorf("bad Location %q", resp.Header.Get("Location"))
			}
			if strings.HasPrefix(loc.String(), codeRedirectURI) {
				if e := loc.Query().Get("error"); e != "" {
					return "", fmt.Errorf("authorization error %s: %s", e, loc.Query().Get("error_description"))
				}
				if c := loc.Query().Get("code"); c != "" {
					return c, nil
				}
				return "", fmt.Errorf("redirect without a code: %s", loc.Redacted())
			}
			u, method, body = loc.String(), http.MethodGet, ""
		case resp.StatusCode == http.StatusOK:
			action, values, err := f.answerPage(page)
			if err != nil {
				return "", fmt.Errorf("page at %s: %w", base.Path, err)
			}
			to, err := base.Parse(action)
			if err != nil {
				return "", err
			}
			u, method, body = to.String(), http.MethodPost, values.Encode()
		default:
			return "", fmt.Errorf("%s %s answered %d: %.200s", method, base.Path, resp.StatusCode, page)
		}
	}
	return "", errors.New("too many hops before a code")
}

// answerPage fills the login form (a password input) or the consent form (a
// decision=allow button) with all of its hidden inputs (the CSRF token among them).
func (f *codeFlow) answerPage(page []byte) (string, url.Values, error) {
	for _, form := range parseForms(page) {
		if form.hasPassword {
			v := form.values
			v.Set("username", f.username)
			v.Set("password", f.password)
			return form.action, v, nil
		}
		if form.allow {
			v := form.values
			v.Set("decision", "allow")
			return form.action, v, nil
		}
	}
	return "", nil, errors.New("neither a login nor a consent form")
}

type htmlForm struct {
	action      string
	values      url.Values
	hasPassword bool
	allow       bool
}

func parseForms(page []byte) []htmlForm {
	var forms []htmlForm
	var cur *htmlForm
	z := html.NewTokenizer(strings.NewReader(string(page)))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return forms
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			t := z.Token()
			attr := func(k string) string {
				for _, a := range t.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch {
			case t.Data == "form" && tt == html.EndTagToken:
				if cur != nil {
					forms = append(forms, *cur)
					cur = nil
				}
			case t.Data == "form":
				cur = &htmlForm{action: attr("action"), values: url.Values{}}
			case cur == nil:
			case t.Data == "input":
				switch strings.ToLower(attr("type")) {
				case "password":
					cur.hasPassword = true
				case "hidden":
					cur.values.Set(attr("name"), attr("value"))
				}
			case t.Data == "button":
				if attr("name") == "decision" && attr("value") == "allow" {
					cur.allow = true
				}
			}
		}
	}
}
