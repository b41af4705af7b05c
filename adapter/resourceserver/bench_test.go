package resourceserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// benchToken is a realistic access token of alg and a verifier for it.
func benchToken(b *testing.B, alg string) (*Verifier, testKey, string) {
	k := newKey(b, alg, "bench-"+alg)
	is := newIssuer(b, k)
	v := newVerifier(b, is, nil)
	c := is.claims()
	c["auth_time"] = now0.Add(-time.Minute).Unix()
	return v, k, mint(b, k, nil, c)
}

// middlewareOp returns one middleware verification, ready to repeat.
func middlewareOp(b *testing.B, v *Verifier, raw string) func() {
	e := echo.New()
	h := v.Middleware()(func(c echo.Context) error {
		if _, ok := FromContext(c); !ok {
			b.Fatal("no claims")
		}
		return nil
	})
	req := httptest.NewRequest(http.MethodGet, "/secured/profile", nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	rec := httptest.NewRecorder()
	return func() {
		c := e.AcquireContext()
		c.Reset(req, rec)
		if err := h(c); err != nil || rec.Code != http.StatusOK {
			b.Fatal(err, rec.Code)
		}
		e.ReleaseContext(c)
	}
}

// rawOp returns the floor: decode the signature, hash the signing input and run
// the bare crypto verification, nothing else.
func rawOp(b *testing.B, k testKey, raw string) func() {
	dot := strings.LastIndexByte(raw, '.')
	input, sig64 := raw[:dot], raw[dot+1:]
	return func() {
		sig, err := base64.RawURLEncoding.DecodeString(sig64)
		if err != nil {
			b.Fatal(err)
		}
		digest := sha256.Sum256([]byte(input))
		var ok bool
		switch pub := k.signer.Public().(type) {
		case *ecdsa.PublicKey:
			ok = ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		case *rsa.PublicKey:
			ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
		}
		if !ok {
			b.Fatal("signature does not verify")
		}
	}
}

// benchmarkOverhead alternates middleware and raw verifications of one token
// and reports the middleware's extra cost in percent. Alternating, and counting
// the thread's CPU time rather than wall time (where the platform allows), keeps
// the ratio meaningful on a busy machine where separate runs are not comparable.
func benchmarkOverhead(b *testing.B, alg string) {
	v, k, raw := benchToken(b, alg)
	mw, rw := middlewareOp(b, v, raw), rawOp(b, k, raw)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var tMW, tRaw time.Duration
	for b.Loop() {
		t0 := threadTime()
		mw()
		t1 := threadTime()
		rw()
		t2 := threadTime()
		tMW += t1 - t0
		tRaw += t2 - t1
	}
	b.ReportMetric(100*(float64(tMW)/float64(tRaw)-1), "overhead-%")
	b.ReportMetric(float64(tMW)/float64(b.N), "mw-ns/op")
	b.ReportMetric(float64(tRaw)/float64(b.N), "raw-ns/op")
}

func BenchmarkVerifyES256Overhead(b *testing.B) { benchmarkOverhead(b, AlgES256) }
func BenchmarkVerifyRS256Overhead(b *testing.B) { benchmarkOverhead(b, AlgRS256) }

// benchmarkMiddleware measures the whole Echo middleware: Authorization header,
// JWS header, key lookup, signature, claims, context.
func benchmarkMiddleware(b *testing.B, alg string) {
	v, _, raw := benchToken(b, alg)
	op := middlewareOp(b, v, raw)
	b.ReportAllocs()
	for b.Loop() {
		op()
	}
}

func benchmarkRaw(b *testing.B, alg string) {
	_, k, raw := benchToken(b, alg)
	op := rawOp(b, k, raw)
	b.ReportAllocs()
	for b.Loop() {
		op()
	}
}

func BenchmarkVerifyES256Middleware(b *testing.B) { benchmarkMiddleware(b, AlgES256) }
func BenchmarkVerifyES256Raw(b *testing.B)        { benchmarkRaw(b, AlgES256) }
func BenchmarkVerifyRS256Middleware(b *testing.B) { benchmarkMiddleware(b, AlgRS256) }
func BenchmarkVerifyRS256Raw(b *testing.B)        { benchmarkRaw(b, AlgRS256) }
