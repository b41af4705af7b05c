package crypto

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"gatehouse/usecase"
)

var _ usecase.PasswordHasher = (*PasswordHasher)(nil)

// PasswordParams are the argon2id cost parameters (RFC 9106 §4) of new hashes.
// Verification reads the parameters from each stored hash, so they can be raised
// later without invalidating existing passwords (see NeedsRehash).
type PasswordParams struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	// Concurrency bounds how many hashes run at once (each holds Memory KiB);
	// 0 means GOMAXPROCS. Excess callers wait, or give up when their ctx ends.
	Concurrency int
}

// DefaultPasswordParams are OWASP's argon2id recommendation (Password Storage
// Cheat Sheet): 19 MiB, 2 iterations, 1 lane.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 19 * 1024, Iterations: 2, Parallelism: 1}
}

const (
	saltLen = 16
	hashLen = 32

	// Bounds for parameters read from a stored hash: a hash imported or planted
	// with absurd costs must not take the server down.
	maxMemory     = 1 << 20 // 1 GiB, in KiB
	maxIterations = 64
	maxBcryptCost = 18
)

// PasswordHasher hashes passwords with argon2id in the PHC string format
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash, base64 without padding).
type PasswordHasher struct {
	params PasswordParams
	sem    chan struct{}
	// dummy is what an unknown user's password is verified against: a hash made
	// with the current parameters (and an all-zero key nothing matches), verified
	// by the very code that verifies a real one, so an unknown user costs what a
	// user whose hash is up to date costs (SECURITY S22, S27). Users with older
	// hashes get current ones at their next sign-in (NeedsRehash).
	dummy argon2Hash
	// hashes counts argon2id/bcrypt computations; tests read it.
	hashes atomic.Int64
}

// NewPasswordHasher returns a PasswordHasher for params; zero fields take the
// defaults.
func NewPasswordHasher(params PasswordParams) (*PasswordHasher, error) {
	def := DefaultPasswordParams()
	if params.Memory == 0 {
		params.Memory = def.Memory
	}
	if params.Iterations == 0 {
		params.Iterations = def.Iterations
	}
	if params.Parallelism == 0 {
		params.Parallelism = def.Parallelism
	}
	if params.Concurrency <= 0 {
		params.Concurrency = runtime.GOMAXPROCS(0)
	}
	if err := checkArgon2Params(params.Memory, params.Iterations, params.Parallelism); err != nil {
		return nil, err
	}
	salt := make([]byte, saltLen)
	read(salt)
	dummy, err := parsePHC(encodePHC(params.Memory, params.Iterations, params.Parallelism, salt, make([]byte, hashLen)))
	if err != nil {
		return nil, fmt.Errorf("the dummy password hash: %w", err)
	}
	return &PasswordHasher{
		params: params,
		sem:    make(chan struct{}, params.Concurrency),
		dummy:  dummy,
	}, nil
}

func checkArgon2Params(m, t uint32, p uint8) error {
	switch {
	case p == 0:
		return errors.New("argon2id parallelism must be at least 1")
	case m < 8*uint32(p):
		return fmt.Errorf("argon2id memory must be at least 8*parallelism KiB, got %d", m)
	case m > maxMemory:
		return fmt.Errorf("argon2id memory %d KiB exceeds the %d KiB limit", m, maxMemory)
	case t == 0 || t > maxIterations:
		return fmt.Errorf("argon2id iterations must be 1 to %d, got %d", maxIterations, t)
	}
	return nil
}

// acquire takes a hashing slot, or fails when ctx ends first.
func (h *PasswordHasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a password hashing slot: %w", context.Cause(ctx))
	}
}

func (h *PasswordHasher) release() {
	h.hashes.Add(1)
	<-h.sem
}

// releaseArgon2 frees the slot of an argon2id hash, after collecting the hash's
// memory. x/crypto/argon2 allocates its m KiB afresh on every call; left to the
// collector's own pace, the next hash took new memory before the last one's was
// freed, and near the server's soft memory limit the collector then ran again and
// again inside the hashes. Collecting here, while the slot is held, lets the next
// hash reuse the memory: under a password-grant flood the server then peaked lower
// and served more grants (BENCHMARKS.md, "What the speed comes from"). A collection
// with the buffers gone costs about a millisecond, against tens of the hash.
func (h *PasswordHasher) releaseArgon2() {
	runtime.GC()
	h.release()
}

// HashPassword returns the PHC string of a new argon2id hash of password.
func (h *PasswordHasher) HashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, hashLen)
	h.releaseArgon2()
	return encodePHC(p.Memory, p.Iterations, p.Parallelism, salt, key), nil
}

func encodePHC(m, t uint32, p uint8, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return "$argon2id$v=" + strconv.Itoa(argon2.Version) +
		"$m=" + strconv.FormatUint(uint64(m), 10) +
		",t=" + strconv.FormatUint(uint64(t), 10) +
		",p=" + strconv.FormatUint(uint64(p), 10) +
		"$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}

// argon2Hash is a parsed PHC argon2id string.
type argon2Hash struct {
	m, t uint32
	p    uint8
	salt []byte
	key  []byte
}

func parsePHC(encoded string) (argon2Hash, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return argon2Hash{}, errors.New("not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argon2Hash{}, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	var h argon2Hash
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return argon2Hash{}, fmt.Errorf("malformed argon2id parameter %q", kv)
		}
		switch k {
		case "m":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || seen[0] {
				return argon2Hash{}, fmt.Errorf("malformed argon2id memory %q", v)
			}
			h.m, seen[0] = uint32(n), true
		case "t":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || seen[1] {
				return argon2Hash{}, fmt.Errorf("malformed argon2id iterations %q", v)
			}
			h.t, seen[1] = uint32(n), true
		case "p":
			n, err := strconv.ParseUint(v, 10, 8)
			if err != nil || seen[2] {
				return argon2Hash{}, fmt.Errorf("malformed argon2id parallelism %q", v)
			}
			h.p, seen[2] = uint8(n), true
		default:
			return argon2Hash{}, fmt.Errorf("unknown argon2id parameter %q", k)
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return argon2Hash{}, errors.New("argon2id parameters m, t and p are all required")
	}
	if err := checkArgon2Params(h.m, h.t, h.p); err != nil {
		return argon2Hash{}, err
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return argon2Hash{}, errors.New("malformed argon2id salt")
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 128 {
		return argon2Hash{}, errors.New("malformed argon2id hash")
	}
	return h, nil
}

func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// VerifyPassword reports whether password matches encoded, an argon2id PHC
// string or a bcrypt hash ($2a$, $2b$, $2y$: users imported from elsewhere).
//
// An empty encoded (unknown user) is verified against a dummy hash with the current
// parameters, by the same code, and answers false, so that an unknown user and a
// wrong password for an up-to-date hash take the same time. A malformed encoded is
// an error, never a match.
func (h *PasswordHasher) VerifyPassword(ctx context.Context, encoded, password string) (bool, error) {
	switch {
	case encoded == "":
		_, err := h.verifyArgon2(ctx, h.dummy, password)
		return false, err
	case isBcrypt(encoded):
		return h.verifyBcrypt(ctx, encoded, password)
	}
	ph, err := parsePHC(encoded)
	if err != nil {
		return false, fmt.Errorf("verify password: stored hash: %w", err)
	}
	return h.verifyArgon2(ctx, ph, password)
}

// verifyArgon2 computes the argon2id key of password with the parameters and salt of
// ph and compares it with ph's in constant time.
func (h *PasswordHasher) verifyArgon2(ctx context.Context, ph argon2Hash, password string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), ph.salt, ph.t, ph.m, ph.p, uint32(len(ph.key)))
	h.releaseArgon2()
	return subtle.ConstantTimeCompare(key, ph.key) == 1, nil
}

// verifyBcrypt checks a legacy bcrypt hash. bcrypt only reads the first 72 bytes of
// a password; that weakness came with the imported hash, and NeedsRehash reports
// true so that the caller replaces it with argon2id after the next good login.
func (h *PasswordHasher) verifyBcrypt(ctx context.Context, encoded, password string) (bool, error) {
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return false, fmt.Errorf("verify password: stored bcrypt hash: %w", err)
	}
	if cost > maxBcryptCost {
		return false, fmt.Errorf("verify password: stored bcrypt cost %d exceeds %d", cost, maxBcryptCost)
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	h.release()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("verify password: bcrypt: %w", err)
	}
}

// NeedsRehash reports whether encoded should be replaced by a fresh HashPassword
// after a successful login: it is bcrypt, malformed, or argon2id with parameters
// other than the current ones.
func (h *PasswordHasher) NeedsRehash(encoded string) bool {
	ph, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return ph.m != h.params.Memory || ph.t != h.params.Iterations || ph.p != h.params.Parallelism ||
		len(ph.salt) != saltLen || len(ph.key) != hashLen
}
