package token

import (
	"context"
	"testing"

	"gatehouse/domain"
)

func benchmarkSign(b *testing.B, alg string) {
	f := newFixture(b, alg)
	ctx := context.Background()
	at := sampleAccessToken(t0)
	if _, err := f.signer.SignAccessToken(ctx, at); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.signer.SignAccessToken(ctx, at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignAccessTokenES256(b *testing.B) { benchmarkSign(b, domain.AlgES256) }
func BenchmarkSignAccessTokenRS256(b *testing.B) { benchmarkSign(b, domain.AlgRS256) }
func BenchmarkSignAccessTokenEdDSA(b *testing.B) { benchmarkSign(b, domain.AlgEdDSA) }

// benchmarkVerify verifies one token again and again: with cached, every call after
// the first is a hit of the verified-token cache (what a resource server introspecting
// the same token meets); without, every call checks the signature.
func benchmarkVerify(b *testing.B, alg string, cached bool) {
	f := newFixture(b, alg)
	if !cached {
		f.verifier.cache = nil
	}
	ctx := context.Background()
	raw, err := f.signer.SignAccessToken(ctx, sampleAccessToken(t0))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.verifier.VerifyAccessToken(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAccessTokenES256(b *testing.B)       { benchmarkVerify(b, domain.AlgES256, false) }
func BenchmarkVerifyAccessTokenRS256(b *testing.B)       { benchmarkVerify(b, domain.AlgRS256, false) }
func BenchmarkVerifyAccessTokenEdDSA(b *testing.B)       { benchmarkVerify(b, domain.AlgEdDSA, false) }
func BenchmarkVerifyAccessTokenCachedES256(b *testing.B) { benchmarkVerify(b, domain.AlgES256, true) }
