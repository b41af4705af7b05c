package crypto

import (
	"context"
	"errors"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fastParams keep the tests quick; the format and logic do not depend on cost.
var fastParams = PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1}

func newTestPasswordHasher(t *testing.T, p PasswordParams) *PasswordHasher {
	t.Helper()
	h, err := NewPasswordHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPasswordHasher_DefaultsAreOWASP(t *testing.T) {
	h := newTestPasswordHasher(t, PasswordParams{})
	if h.params.Memory != 19*1024 || h.params.Iterations != 2 || h.params.Parallelism != 1 {
		t.Fatalf("defaults = %+v, want m=19456 t=2 p=1", h.params)
	}
	if h.params.Concurrency < 1 || cap(h.sem) != h.params.Concurrency {
		t.Fatalf("concurrency = %d, semaphore %d", h.params.Concurrency, cap(h.sem))
	}
	ctx := context.Background()
	enc, err := h.HashPassword(ctx, "hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the default parameters", enc)
	}
	if ok, err := h.VerifyPassword(ctx, enc, "hunter2hunter2"); !ok || err != nil {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
}

func TestPasswordHasher_HashAndVerify(t *testing.T) {
	ctx := context.Background()
	h := newTestPasswordHasher(t, fastParams)
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	for _, pw := range []string{"password1", "pässwörd ✓ with spaces", strings.Repeat("long", 32)} {
		enc, err := h.HashPassword(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		if !phc.MatchString(enc) {
			t.Fatalf("hash %q is not a PHC argon2id string", enc)
		}
		if strings.Contains(enc, pw) {
			t.Fatal("hash contains the password")
		}
		if ok, err := h.VerifyPassword(ctx, enc, pw); !ok || err != nil {
			t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
		}
		for _, wrong := range []string{"", pw + "x", strings.ToUpper(pw), pw[:len(pw)-1]} {
			if ok, err := h.VerifyPassword(ctx, enc, wrong); ok || err != nil {
				t.Fatalf("VerifyPassword(wrong %q) = %v, %v", wrong, ok, err)
			}
		}
		again, _ := h.HashPassword(ctx, pw)
		if again == enc {
			t.Fatal("two hashes of one password are equal: the salt is not random")
		}
	}
}

// Parameters come from the stored hash, so raising the cost later keeps old
// passwords working.
func TestPasswordHasher_VerifyReadsParamsFromHash(t *testing.T) {
	ctx := context.Background()
	old := newTestPasswordHasher(t, PasswordParams{Memory: 32, Iterations: 3, Parallelism: 2})
	enc, err := old.HashPassword(ctx, "correct password")
	if err != nil {
		t.Fatal(err)
	}
	current := newTestPasswordHasher(t, fastParams)
	if ok, err := current.VerifyPassword(ctx, enc, "correct password"); !ok || err != nil {
		t.Fatalf("VerifyPassword with other current params = %v, %v", ok, err)
	}
	if !current.NeedsRehash(enc) {
		t.Fatal("NeedsRehash = false for a hash with old parameters")
	}
	fresh, _ := current.HashPassword(ctx, "correct password")
	if current.NeedsRehash(fresh) {
		t.Fatal("NeedsRehash = true for a fresh hash")
	}
}

// TestSecurity_S27_UnknownUserCostsAHash: an empty stored hash still runs one
// argon2id hash with the current parameters and answers false.
func TestSecurity_S27_UnknownUserCostsAHash(t *testing.T) {
	ctx := context.Background()
	h := newTestPasswordHasher(t, PasswordParams{Memory: 4096, Iterations: 2, Parallelism: 1, Concurrency: 1})
	before := h.hashes.Load()
	ok, err := h.VerifyPassword(ctx, "", "any password")
	if ok || err != nil {
		t.Fatalf("VerifyPassword(unknown user) = %v, %v; want false, nil", ok, err)
	}
	if got := h.hashes.Load() - before; got != 1 {
		t.Fatalf("unknown user ran %d hashes, want 1", got)
	}
	// Its hash has exactly the parameters (and salt and key lengths) of a new hash,
	// so it costs what verifying an up-to-date hash costs (audit finding 5 of issue 18).
	fresh, err := h.HashPassword(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if h.NeedsRehash(encodePHC(h.dummy.m, h.dummy.t, h.dummy.p, h.dummy.salt, h.dummy.key)) {
		t.Fatalf("the dummy hash (m=%d t=%d p=%d) differs from a new one: %s", h.dummy.m, h.dummy.t, h.dummy.p, fresh)
	}
	if ph, _ := parsePHC(fresh); ph.m != h.dummy.m || ph.t != h.dummy.t || ph.p != h.dummy.p ||
		len(ph.salt) != len(h.dummy.salt) || len(ph.key) != len(h.dummy.key) {
		t.Fatalf("a new hash %s and the dummy differ", fresh)
	}

	// And it queues for a hashing slot like any verification.
	h.sem <- struct{}{}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := h.VerifyPassword(cctx, "", "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyPassword(unknown user) while busy: err = %v, want DeadlineExceeded", err)
	}
	<-h.sem

}

func TestPasswordHasher_ContextCancelledWhileWaiting(t *testing.T) {
	h := newTestPasswordHasher(t, PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1, Concurrency: 1})
	h.sem <- struct{}{} // every slot busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.HashPassword(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("HashPassword with a cancelled ctx: err = %v, want Canceled", err)
	}
	if _, err := h.VerifyPassword(ctx, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE", "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("VerifyPassword with a cancelled ctx: err = %v, want Canceled", err)
	}
	<-h.sem
}

func TestPasswordHasher_BoundsConcurrency(t *testing.T) {
	h := newTestPasswordHasher(t, PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, Concurrency: 2})
	var wg sync.WaitGroup
	var mu sync.Mutex
	maxSeen := 0
	stop := make(chan struct{})
	go func() { // sample the number of slots in use
		for {
			select {
			case <-stop:
				return
			default:
				mu.Lock()
				maxSeen = max(maxSeen, len(h.sem))
				mu.Unlock()
			}
		}
	}()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.HashPassword(context.Background(), "pw"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	if maxSeen > 2 {
		t.Fatalf("%d hashes ran at once, want at most 2", maxSeen)
	}
}

// TestPasswordHasher_FreesTheHashMemory: a hash's argon2id memory is collected
// before its slot is free, so the next hash reuses it instead of growing the heap
// (a password-grant flood kept three 19 MiB buffers resident, not two). The automatic
// collector is off here, so only the hasher's own collection can free it.
func TestPasswordHasher_FreesTheHashMemory(t *testing.T) {
	const kib = 16 * 1024 // 16 MiB
	h := newTestPasswordHasher(t, PasswordParams{Memory: kib, Iterations: 1, Parallelism: 1, Concurrency: 1})
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	encoded, err := h.HashPassword(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	for name, hash := range map[string]func() error{
		"HashPassword": func() error { _, err := h.HashPassword(t.Context(), "pw"); return err },
		"VerifyPassword": func() error {
			ok, err := h.VerifyPassword(t.Context(), encoded, "pw")
			if err == nil && !ok {
				err = errors.New("the right password did not verify")
			}
			return err
		},
		"VerifyPassword of an unknown user": func() error { _, err := h.VerifyPassword(t.Context(), "", "pw"); return err },
	} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := hash(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&after)
		if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > kib*1024/2 {
			t.Errorf("%s: the heap holds %d KiB more after the hash; its %d KiB were not collected", name, grew/1024, kib)
		}
	}
}

func TestPasswordHasher_Bcrypt(t *testing.T) {
	ctx := context.Background()
	h := newTestPasswordHasher(t, fastParams)
	legacy, err := bcrypt.GenerateFromPassword([]byte("legacy password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		enc := prefix + string(legacy[4:])
		if ok, err := h.VerifyPassword(ctx, enc, "legacy password"); !ok || err != nil {
			t.Fatalf("%s: VerifyPassword(right) = %v, %v", prefix, ok, err)
		}
		if ok, err := h.VerifyPassword(ctx, enc, "wrong password"); ok || err != nil {
			t.Fatalf("%s: VerifyPassword(wrong) = %v, %v", prefix, ok, err)
		}
		if !h.NeedsRehash(enc) {
			t.Fatalf("%s: NeedsRehash = false for bcrypt", prefix)
		}
	}
	// An absurd cost is refused rather than tying up a CPU for hours.
	costly := "$2a$31$" + string(legacy[7:])
	if ok, err := h.VerifyPassword(ctx, costly, "legacy password"); ok || err == nil {
		t.Fatalf("bcrypt cost 31: VerifyPassword = %v, %v; want an error", ok, err)
	}
}

func TestPasswordHasher_MalformedHashIsErrorNotMatch(t *testing.T) {
	ctx := context.Background()
	h := newTestPasswordHasher(t, fastParams)
	good, _ := h.HashPassword(ctx, "pw")
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"plain text":         "pw",
		"argon2i":            strings.Replace(good, "argon2id", "argon2i", 1),
		"version 16":         strings.Replace(good, "v=19", "v=16", 1),
		"missing param":      strings.Replace(good, ",p=1", "", 1),
		"repeated param":     strings.Replace(good, ",p=1", ",p=1,p=1", 1),
		"unknown param":      strings.Replace(good, ",p=1", ",p=1,x=2", 1),
		"huge memory":        strings.Replace(good, "m=64", "m=99999999", 1),
		"zero iterations":    strings.Replace(good, "t=1", "t=0", 1),
		"zero parallelism":   strings.Replace(good, "p=1", "p=0", 1),
		"bad salt":           strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"short hash":         strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "YWJj"}, "$"),
		"padded base64 hash": good + "=",
		"extra field":        good + "$x",
		"bcrypt garbage":     "$2b$xx",
	} {
		ok, err := h.VerifyPassword(ctx, enc, "pw")
		if ok || err == nil {
			t.Errorf("%s: VerifyPassword(%q) = %v, %v; want false and an error", name, enc, ok, err)
		}
	}
}

func TestNewPasswordHasher_RejectsBadParams(t *testing.T) {
	for _, p := range []PasswordParams{
		{Memory: 4, Iterations: 1, Parallelism: 1},
		{Memory: 2 << 20, Iterations: 1, Parallelism: 1},
		{Memory: 64, Iterations: 1000, Parallelism: 1},
	} {
		if _, err := NewPasswordHasher(p); err == nil {
			t.Errorf("NewPasswordHasher(%+v) = nil error", p)
		}
	}
}
