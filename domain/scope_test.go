package domain

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// distinctScopes returns n distinct valid scope tokens ("s0", "s1", …).
func distinctScopes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "s" + strconv.Itoa(i)
	}
	return out
}

// TestParseScope_StopsAtTheLimit shows that ParseScope reads no token past the
// MaxScopeTokens+1st (audit finding 1 of issue 18: 16,000 distinct tokens once cost
// a fraction of a second of CPU before the limit was checked). A malformed token placed
// after the limit is never reached, so the answer is "too many", not "malformed"; one
// placed within the limit is. The work is counted in tokens read, not timed.
func TestParseScope_StopsAtTheLimit(t *testing.T) {
	const bad = `"` // not a scope token
	cases := []struct {
		name      string
		tokens    []string
		wantError string // "" for success
	}{
		{"exactly the limit", distinctScopes(MaxScopeTokens), ""},
		{"one over", distinctScopes(MaxScopeTokens + 1), "too many scope tokens"},
		{"the limit, repeated", append(distinctScopes(MaxScopeTokens), "s0"), "too many scope tokens"},
		{"malformed at the limit", append(distinctScopes(MaxScopeTokens-1), bad), "malformed scope token"},
		{"malformed just past the limit", append(distinctScopes(MaxScopeTokens), bad), "too many scope tokens"},
		{"16,000 distinct, malformed last", append(distinctScopes(16_000), bad), "too many scope tokens"},
		{"16,000 repeated, malformed last", append(strings.Fields(strings.Repeat("a ", 16_000)), bad), "too many scope tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScope(strings.Join(tc.tokens, "  "))
			switch {
			case tc.wantError == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantError == "" && len(got) != len(tc.tokens):
				t.Fatalf("%d tokens, want %d", len(got), len(tc.tokens))
			case tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)):
				t.Fatalf("error %v, want %q", err, tc.wantError)
			}
		})
	}
}

// TestParseScope_MemoryBounded: parsing 16,000 distinct tokens allocates about what
// parsing MaxScopeTokens+1 of them does; the rest of the input is never touched. (The
// old parser split the whole input first: 256 KB for the 16,000 fields alone.)
func TestParseScope_MemoryBounded(t *testing.T) {
	small := strings.Join(distinctScopes(MaxScopeTokens+1), " ")
	huge := strings.Join(distinctScopes(16_000), " ")
	a, b := allocatedBytes(func() { _, _ = ParseScope(small) }), allocatedBytes(func() { _, _ = ParseScope(huge) })
	if b > a+4096 {
		t.Fatalf("16,000 tokens allocate %d bytes; %d tokens %d", b, MaxScopeTokens+1, a)
	}
}

// allocatedBytes is the heap allocated by one call of f, on average over 20.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 20 {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / 20
}

// BenchmarkParseScope16000 parses the audit's request: 16,000 distinct tokens.
func BenchmarkParseScope16000(b *testing.B) {
	s := strings.Join(distinctScopes(16_000), " ")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseScope(s); err == nil {
			b.Fatal("accepted")
		}
	}
}
