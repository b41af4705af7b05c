package throttle

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/domain"
)

func TestMemoryLocksAfterFreeFailuresAndCapsTheWait(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := NewMemory(Policy{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: 10 * time.Second, Forget: time.Hour, MaxKeys: 10}, func() time.Time { return now })
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := m.Check(ctx, "u"); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		m.Failure(ctx, "u")
	}
	if err := m.Check(ctx, "u"); err != nil {
		t.Fatalf("free failures must not lock: %v", err)
	}
	m.Failure(ctx, "u")
	var te *domain.ThrottledError
	if err := m.Check(ctx, "u"); !errors.As(err, &te) {
		t.Fatalf("want throttled, got %v", err)
	}
	if err := m.Check(ctx, "other"); err != nil {
		t.Fatalf("other keys must be free: %v", err)
	}
	for i := 0; i < 40; i++ {
		m.Failure(ctx, "u")
	}
	if err := m.Check(ctx, "u"); !errors.As(err, &te) || te.RetryAfter > 11*time.Second {
		t.Fatalf("wait must be capped at MaxDelay: %v", err)
	}
	now = now.Add(11 * time.Second)
	if err := m.Check(ctx, "u"); err != nil {
		t.Fatalf("lock must end after the capped wait: %v", err)
	}
	m.Success(ctx, "u")
	m.Failure(ctx, "u")
	if err := m.Check(ctx, "u"); err != nil {
		t.Fatalf("success must reset: %v", err)
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	m := NewMemory(Policy{FreeFailures: 1, BaseDelay: time.Second, MaxDelay: time.Minute, Forget: time.Hour, MaxKeys: 100}, nil)
	for i := 0; i < 1000; i++ {
		m.Failure(context.Background(), string(rune('a'+i%26))+string(rune(i)))
	}
	if len(m.keys) > 100 {
		t.Fatalf("%d keys kept, want at most 100", len(m.keys))
	}
}
