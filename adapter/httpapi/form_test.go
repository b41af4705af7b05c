package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
)

// The single pass refuses what decoding the whole body first refused, and a malformed
// encoding wins over every other refusal wherever it stands.
func TestParseFormBody_Refusals(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"a=1&a=2&b=%zz", "malformed form encoding"},
		{"scope=api%00&b=%4", "malformed form encoding"},
		{"a=1&a=2;", "malformed form encoding"},
		{strings.Repeat("a=1&", maxFormParams), "malformed form encoding"},
		{"a=1&b=2&a=", `parameter "a" is repeated`},
		{"a=&a=", `parameter "a" is repeated`},
		{"scope=" + strings.Repeat("s", domain.MaxParamBytes+1), "parameter scope is too long"},
		{"x=%FF", "parameters must be valid UTF-8 without NUL bytes"},
		{strings.Repeat("resource=r&", domain.MaxResourceParams+1), "too many resource parameters"},
	} {
		_, err := parseFormBody(tc.body)
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != "invalid_request" || !strings.Contains(e.Description, tc.want) {
			t.Errorf("parseFormBody(%.40q): %v, want invalid_request %q", tc.body, err, tc.want)
		}
	}
	f, err := parseFormBody("grant_type=client_credentials&scope=api%3Aread+api%3Awrite&&resource=a&resource=&resource=b&=x&e=")
	if err != nil {
		t.Fatal(err)
	}
	if f.get("grant_type") != "client_credentials" || f.get("scope") != "api:read api:write" || f.get("") != "x" ||
		len(f.values) != 3 || strings.Join(f.resources, ",") != "a,b" {
		t.Fatalf("parsed %q %q", f.values, f.resources)
	}
}

// parseForm reads bodies whose declared length is right, absent (chunked) or
// smaller than the body; over MaxBodyBytes it answers 413.
func TestParseForm_Body(t *testing.T) {
	e := echo.New()
	parse := func(body string, declared int64) (form, error) {
		req := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(body)))
		req.Header.Set(echo.HeaderContentType, "application/x-www-form-urlencoded")
		req.ContentLength = declared
		return parseForm(e.NewContext(req, httptest.NewRecorder()))
	}
	long := "scope=" + strings.Repeat("s", 2000)
	for _, declared := range []int64{int64(len(long)), -1, 10} {
		f, err := parse(long, declared)
		if err != nil || len(f.get("scope")) != 2000 {
			t.Fatalf("declared %d: %v", declared, err)
		}
	}
	big := strings.Repeat("a", MaxBodyBytes+1)
	for _, declared := range []int64{-1, int64(len(big))} {
		if _, err := parse(big, declared); err != errTooLarge {
			t.Fatalf("a body over the limit, declared %d: %v", declared, err)
		}
	}
	// A declared length over the limit is refused before the body is read: net/http
	// would answer `Expect: 100-continue` with 100 Continue at the first read.
	req := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(unreadable{t}))
	req.Header.Set(echo.HeaderContentType, "application/x-www-form-urlencoded")
	req.ContentLength = MaxBodyBytes + 1
	if _, err := parseForm(e.NewContext(req, httptest.NewRecorder())); err != errTooLarge {
		t.Fatalf("a declared length over the limit: %v", err)
	}
	req = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("a=1"))
	req.Header.Set(echo.HeaderContentType, "Application/X-WWW-Form-Urlencoded; charset=utf-8")
	if f, err := parseForm(e.NewContext(req, httptest.NewRecorder())); err != nil || f.get("a") != "1" {
		t.Fatalf("a form type with a parameter: %v", err)
	}
	req = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":1}`))
	req.Header.Set(echo.HeaderContentType, "application/json")
	if _, err := parseForm(e.NewContext(req, httptest.NewRecorder())); err == nil {
		t.Fatal("a JSON body was accepted")
	}
}

// unreadable is a body that must not be read.
type unreadable struct{ t *testing.T }

func (u unreadable) Read([]byte) (int, error) {
	u.t.Error("the body was read")
	return 0, io.ErrUnexpectedEOF
}

func BenchmarkParseFormBody(b *testing.B) {
	body := "grant_type=refresh_token&refresh_token=" + strings.Repeat("r", 43) + "&scope=api%3Aread"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseFormBody(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFormBodyIntrospection: an introspection request's body, a JWT
// access token of about 600 characters that needs no unescaping.
func BenchmarkParseFormBodyIntrospection(b *testing.B) {
	body := "token=" + strings.Repeat("eyJhbGciOiJFUzI1NiIs.", 28) + "&token_type_hint=access_token"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseFormBody(body); err != nil {
			b.Fatal(err)
		}
	}
}
