package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDeviceFlowRegisterReturnsToDevice: a person who has no account yet follows
// "Create an account" from the device login, signs up, and lands back on the device
// page with the user code, ready to approve.
func TestDeviceFlowRegisterReturnsToDevice(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	c := newDVClient(t, srv, "--public")
	a := c.authorize(t, srv, srv.HTTPClient(), "openid")
	b := newDVBrowser(t, srv)

	// The device page sends a browser without a session to the login page.
	login := b.get("/login?user_code=" + url.QueryEscape(a.UserCode))
	if login.Status != http.StatusOK {
		t.Fatalf("login page: %d %s", login.Status, login.Body)
	}
	wantLink := `href="/register?user_code=` + a.UserCode + `"`
	if !strings.Contains(string(login.Body), wantLink) {
		t.Fatalf("the login page's sign-up link does not carry the user code (want %s):\n%s", wantLink, login.Body)
	}
	reg := b.get("/register?user_code=" + url.QueryEscape(a.UserCode))
	if reg.Status != http.StatusOK {
		t.Fatalf("registration page: %d %s", reg.Status, reg.Body)
	}
	form := dvHidden(t, reg)
	if form.Get("user_code") != a.UserCode {
		t.Fatalf("the registration form does not carry the user code: %v", form)
	}
	name := uniqueName("dvsignup")
	form.Set("username", name)
	form.Set("email", name+"@example.com")
	form.Set("password", "device sign-up password")
	srv.Sensitive("device sign-up password")
	done := b.post("/register", form)
	if done.Status != http.StatusSeeOther {
		t.Fatalf("registration: %d %s", done.Status, done.Body)
	}
	loc, err := url.Parse(done.Header.Get("Location"))
	if err != nil || loc.Path != "/device" || loc.Query().Get("user_code") != a.UserCode {
		t.Fatalf("after sign-up the browser goes to %q, want /device?user_code=%s", done.Header.Get("Location"), a.UserCode)
	}
	// And the device page now asks this signed-in user to approve.
	confirm := b.get(loc.String())
	if confirm.Status != http.StatusOK || !strings.Contains(string(confirm.Body), `value="allow"`) {
		t.Fatalf("device page after sign-up: %d %s", confirm.Status, confirm.Body)
	}
}
