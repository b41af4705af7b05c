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

func benchmarkVerify(b *testing.B, alg string) {
	f := newFixture(b, alg)
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

func BenchmarkVerifyAccessTokenES256(b *testing.B) { benchmarkVerify(b, domain.AlgES256) }
func BenchmarkVerifyAccessTokenRS256(b *testing.B) { benchmarkVerify(b, domain.AlgRS256) }
func BenchmarkVerifyAccessTokenEdDSA(b *testing.B) { benchmarkVerify(b, domain.AlgEdDSA) }
