package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/domain"
)

// KeySource lists the stored signing keys (the repository's KeyStore fills it).
type KeySource interface {
	ListKeys(ctx context.Context) ([]domain.SigningKey, error)
}

// Defaults of KeyRingConfig.
const (
	DefaultRefreshInterval   = 30 * time.Second
	DefaultMinReloadInterval = 5 * time.Second
	// reloadTimeout bounds a refresh that runs on behalf of a request.
	reloadTimeout = 5 * time.Second
)

// KeyRingConfig tunes a KeyRing; zero fields take the defaults.
type KeyRingConfig struct {
	// RefreshInterval: how old a snapshot may get before the next use reloads it
	// from the store. The change feed calls Reload as soon as keys change anywhere;
	// this is the backstop should a change notice be lost.
	RefreshInterval time.Duration
	// MinReloadInterval rate-limits reloads triggered by an unknown kid, so that
	// tokens with made-up kids cannot hammer the database.
	MinReloadInterval time.Duration
	// Logger receives reload failures (never key material); nil means slog.Default().
	Logger *slog.Logger
	// Now is the wall clock that picks the signing key of each call (a rotated-in key
	// signs from its activation time, without a reload); nil means time.Now.
	Now func() time.Time
}

// ErrNoActiveKey: the store holds no usable key of the alg that signs now.
var ErrNoActiveKey = errors.New("no active signing key")

// Key is one parsed signing key of a snapshot. It is immutable.
type Key struct {
	ID          string
	Alg         string
	CreatedAt   time.Time
	ActivatesAt time.Time  // zero: from the start
	RetiredAt   *time.Time // nil: no successor yet
	ExpiresAt   *time.Time

	public  crypto.PublicKey
	private crypto.Signer // only for keys that sign now or later; nil when privErr is set
	privErr error
	jwk     []byte // the public JWK, marshalled once
	// Base64url JOSE headers, computed once per key.
	atHeader string // {"alg","kid","typ":"at+jwt"}
	idHeader string // {"alg","kid","typ":"JWT"}

	// What the key was parsed from, to reuse the parse on the next reload.
	srcPublic, srcPrivate []byte
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.public }

// SignsAt reports whether now is in the key's signing window [ActivatesAt, RetiredAt).
func (k *Key) SignsAt(now time.Time) bool {
	return !now.Before(k.ActivatesAt) && (k.RetiredAt == nil || now.Before(*k.RetiredAt))
}

// activationTime is when the key starts signing, its creation when ActivatesAt is
// zero (as domain.SigningKey.ActivationTime).
func (k *Key) activationTime() time.Time {
	if k.ActivatesAt.IsZero() {
		return k.CreatedAt
	}
	return k.ActivatesAt
}

// snapshot is an immutable view of the store at one time.
type snapshot struct {
	keys  []*Key // store order, duplicates dropped
	byKID map[string]*Key
	// signers are, by alg, the keys that sign at the snapshot's load or later
	// (private key opened), by activation time, earliest first. Which of them signs
	// is decided on each call by the clock, so that every instance switches to a
	// rotated-in key at its activation time, reloaded or not.
	signers map[string][]*Key
	jwks    atomic.Pointer[jwksCache]
}

// jwksCache is the marshalled JWKS for one set of published keys.
type jwksCache struct {
	kids []string
	body []byte
}

// KeyRing holds the signing keys. Reads are lock-free: an atomic pointer to an
// immutable snapshot; only reloads take a mutex, and a request never waits for a
// reload except when there is no snapshot at all.
type KeyRing struct {
	src    KeySource
	cipher KeyCipher
	cfg    KeyRingConfig
	log    *slog.Logger

	snap atomic.Pointer[snapshot]
	// next is when the snapshot goes stale, and lastReload when the store was last
	// read, both in nanoseconds of the monotonic clock since epoch.
	epoch      time.Time
	monoNow    func() int64 // ns since epoch; tests replace it
	next       atomic.Int64
	lastReload atomic.Int64
	reloadMu   sync.Mutex
	loadErr    error // the last reload failure; guarded by reloadMu
}

// NewKeyRing returns a KeyRing reading keys from src and opening private keys
// with c. It reads nothing until first used (or Reload).
func NewKeyRing(src KeySource, c KeyCipher, cfg KeyRingConfig) *KeyRing {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MinReloadInterval <= 0 {
		cfg.MinReloadInterval = DefaultMinReloadInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &KeyRing{src: src, cipher: c, cfg: cfg, log: log, epoch: time.Now()}
	r.monoNow = func() int64 { return int64(time.Since(r.epoch)) }
	return r
}

func (r *KeyRing) mono() int64 { return r.monoNow() }

// Reload reads the keys from the store now and replaces the snapshot.
func (r *KeyRing) Reload(ctx context.Context) error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	_, err := r.reloadLocked(ctx)
	return err
}

func (r *KeyRing) reloadLocked(ctx context.Context) (*snapshot, error) {
	r.lastReload.Store(r.mono())
	stored, err := r.src.ListKeys(ctx)
	if err != nil {
		// Retry soon, but not on every request while the store is down.
		r.next.Store(r.mono() + int64(min(r.cfg.RefreshInterval, r.cfg.MinReloadInterval)))
		r.loadErr = fmt.Errorf("list signing keys: %w", err)
		return nil, r.loadErr
	}
	r.loadErr = nil
	s := r.build(stored, r.snap.Load())
	r.snap.Store(s)
	r.next.Store(r.mono() + int64(r.cfg.RefreshInterval))
	return s, nil
}

// current returns a fresh-enough snapshot. When stale, the one caller that gets
// the reload lock refreshes; everyone else keeps using the stale snapshot.
func (r *KeyRing) current(ctx context.Context) (*snapshot, error) {
	s := r.snap.Load()
	if s != nil && r.mono() < r.next.Load() {
		return s, nil
	}
	if s == nil {
		r.reloadMu.Lock()
		defer r.reloadMu.Unlock()
		if s = r.snap.Load(); s != nil { // another caller loaded it meanwhile
			return s, nil
		}
		if r.loadErr != nil && r.mono() < r.next.Load() { // failed a moment ago: do not hammer the store
			return nil, r.loadErr
		}
		ctx, cancel := detached(ctx)
		defer cancel()
		return r.reloadLocked(ctx)
	}
	if !r.reloadMu.TryLock() {
		return s, nil
	}
	defer r.reloadMu.Unlock()
	if r.mono() < r.next.Load() { // refreshed while we looked
		return r.snap.Load(), nil
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	ns, err := r.reloadLocked(ctx)
	if err != nil {
		r.log.Warn("signing keys: reload failed, serving the cached keys", "error", err)
		return s, nil
	}
	return ns, nil
}

// detached bounds a reload done on behalf of a request without letting the
// request's cancellation abort a refresh that others will use.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
}

// ActiveKey returns the key that signs for alg now: of the snapshot's keys whose
// signing window holds the time, the one activated last. No store read and no
// allocation unless the snapshot is stale or has no such key.
func (r *KeyRing) ActiveKey(ctx context.Context, alg string) (*Key, error) {
	s, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	k := s.signerAt(alg, r.cfg.Now())
	if k == nil {
		if s, err = r.reloadForMissingAlg(ctx, s); err != nil {
			return nil, err
		}
		if k = s.signerAt(alg, r.cfg.Now()); k == nil {
			return nil, fmt.Errorf("%w of alg %s", ErrNoActiveKey, alg)
		}
	}
	if k.privErr != nil {
		return nil, fmt.Errorf("active %s key %s: %w", alg, k.ID, k.privErr)
	}
	return k, nil
}

// signerAt returns the key of alg that signs at now, or nil.
func (s *snapshot) signerAt(alg string, now time.Time) *Key {
	ks := s.signers[alg]
	for i := len(ks) - 1; i >= 0; i-- {
		if ks[i].SignsAt(now) {
			return ks[i]
		}
	}
	return nil
}

// verificationKey returns the published key kid. An unknown kid reloads the ring
// once (a key rotated in by another instance), at most every MinReloadInterval.
func (r *KeyRing) verificationKey(ctx context.Context, kid string, now time.Time) (*Key, error) {
	s, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	k := s.byKID[kid]
	if k == nil {
		if s, err = r.reloadForUnknownKID(ctx); err != nil {
			return nil, err
		}
		if k = s.byKID[kid]; k == nil {
			return nil, errors.New("unknown kid")
		}
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, errors.New("the key of this kid is no longer published")
	}
	return k, nil
}

// reloadForMissingAlg reloads when no key of an alg signs in snapshot seen: a
// client registered with a new ID-token alg while this instance runs (the CLI
// creates the key in the store). Only a registered client's grant gets here, not
// any token an attacker makes up, so the reload is not rate-limited like an unknown
// kid's; concurrent callers share one reload.
func (r *KeyRing) reloadForMissingAlg(ctx context.Context, seen *snapshot) (*snapshot, error) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	if s := r.snap.Load(); s != seen { // someone reloaded while we waited: use theirs
		return s, nil
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	return r.reloadLocked(ctx)
}

var errReloadRateLimited = errors.New("unknown kid (key reload rate-limited)")

func (r *KeyRing) reloadForUnknownKID(ctx context.Context) (*snapshot, error) {
	last := r.lastReload.Load()
	if r.mono()-last < int64(r.cfg.MinReloadInterval) {
		return nil, errReloadRateLimited
	}
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	if r.lastReload.Load() != last { // someone reloaded while we waited: use theirs
		return r.snap.Load(), nil
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	return r.reloadLocked(ctx)
}

// JWKS returns the JSON Web Key Set (RFC 7517 §5) of the keys published at now:
// public members only, unique kids. The bytes are cached per snapshot and set of
// published keys; callers must not modify them.
func (r *KeyRing) JWKS(now time.Time) ([]byte, error) {
	s, err := r.current(context.Background())
	if err != nil {
		return nil, err
	}
	var kidsBuf [16]string
	kids := kidsBuf[:0]
	for _, k := range s.keys {
		if k.ExpiresAt == nil || now.Before(*k.ExpiresAt) {
			kids = append(kids, k.ID)
		}
	}
	if c := s.jwks.Load(); c != nil && equalStrings(c.kids, kids) {
		return c.body, nil
	}
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	for i, kid := range kids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(s.byKID[kid].jwk)
	}
	b.WriteString(`]}`)
	c := &jwksCache{kids: append([]string(nil), kids...), body: b.Bytes()}
	s.jwks.Store(c)
	return c.body, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// build parses stored keys into a snapshot, reusing what prev already parsed.
// A revoked key is left out; so is a key that cannot be parsed (logged); a key whose
// private part does not open stays for verification but cannot sign.
func (r *KeyRing) build(stored []domain.SigningKey, prev *snapshot) *snapshot {
	now := r.cfg.Now()
	s := &snapshot{byKID: make(map[string]*Key, len(stored)), signers: map[string][]*Key{}}
	for _, sk := range stored {
		if sk.Revoked() {
			// A compromised key: neither published nor trusted, so every token it
			// signed fails verification (an unknown kid) on the next call.
			continue
		}
		if _, dup := s.byKID[sk.ID]; dup || sk.ID == "" {
			r.log.Error("signing keys: duplicate or empty kid skipped", "kid", sk.ID)
			continue
		}
		var old *Key
		if prev != nil {
			old = prev.byKID[sk.ID]
		}
		maySign := sk.RetiredAt == nil || now.Before(*sk.RetiredAt)
		k, err := r.parse(sk, old, maySign)
		if err != nil {
			r.log.Error("signing keys: key skipped", "kid", sk.ID, "alg", sk.Alg, "error", err)
			continue
		}
		s.keys = append(s.keys, k)
		s.byKID[k.ID] = k
		if maySign {
			s.signers[k.Alg] = append(s.signers[k.Alg], k)
		}
	}
	for _, ks := range s.signers {
		// Windows of one alg do not overlap unless the store was edited by hand;
		// should they, the key activated last (then created last) signs.
		slices.SortStableFunc(ks, func(a, b *Key) int {
			if c := a.activationTime().Compare(b.activationTime()); c != 0 {
				return c
			}
			return a.CreatedAt.Compare(b.CreatedAt)
		})
	}
	return s
}

// parse makes the Key of sk; maySign opens its private part (a key that can no
// longer sign does not keep it in memory).
func (r *KeyRing) parse(sk domain.SigningKey, old *Key, maySign bool) (*Key, error) {
	k := &Key{ID: sk.ID, Alg: sk.Alg, CreatedAt: sk.CreatedAt, ActivatesAt: sk.ActivatesAt,
		RetiredAt: sk.RetiredAt, ExpiresAt: sk.ExpiresAt, srcPublic: sk.PublicKey, srcPrivate: sk.PrivateKey}
	if old != nil && old.Alg == sk.Alg && bytes.Equal(old.srcPublic, sk.PublicKey) {
		k.public, k.jwk, k.atHeader, k.idHeader = old.public, old.jwk, old.atHeader, old.idHeader
		if bytes.Equal(old.srcPrivate, sk.PrivateKey) {
			k.private, k.privErr = old.private, old.privErr
		}
	} else {
		if err := k.parsePublic(sk.PublicKey); err != nil {
			return nil, err
		}
	}
	if maySign && k.private == nil && k.privErr == nil {
		k.private, k.privErr = r.openPrivate(sk, k.public)
	}
	if !maySign {
		k.private, k.privErr = nil, nil // a retired key never signs; do not keep it in memory
	}
	return k, nil
}

func (k *Key) parsePublic(der []byte) error {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return fmt.Errorf("parse public key: %w", err)
	}
	j := jwk{Use: "sig", Alg: k.Alg, Kid: k.ID}
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Alg != domain.AlgES256 {
			return fmt.Errorf("EC key stored with alg %s", k.Alg)
		}
		x, y, err := ecCoordinates(p)
		if err != nil {
			return err
		}
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64(x), b64(y)
	case *rsa.PublicKey:
		if k.Alg != domain.AlgRS256 {
			return fmt.Errorf("RSA key stored with alg %s", k.Alg)
		}
		if p.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small", p.N.BitLen())
		}
		j.Kty, j.N, j.E = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case ed25519.PublicKey:
		if k.Alg != domain.AlgEdDSA {
			return fmt.Errorf("Ed25519 key stored with alg %s", k.Alg)
		}
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64(p)
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	var err2 error
	if k.jwk, err2 = json.Marshal(j); err2 != nil {
		return fmt.Errorf("marshal JWK: %w", err2)
	}
	k.public = pub
	k.atHeader = encodeHeader(k.Alg, k.ID, "at+jwt")
	k.idHeader = encodeHeader(k.Alg, k.ID, "JWT")
	return nil
}

func encodeHeader(alg, kid, typ string) string {
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, typ})
	return base64.RawURLEncoding.EncodeToString(h)
}

// ErrSecretKeyMismatch: the secret key opens none of the stored private keys, so it
// is not the key the database was set up with.
var ErrSecretKeyMismatch = errors.New("the secret key opens none of the stored signing keys")

// CheckSecret tells whether this instance's secret key is the database's: nil when
// at least one stored private key opens with it (or none is stored yet),
// ErrSecretKeyMismatch when none does. A process with another key would seal keys
// and hash client secrets that no other instance can use.
func (r *KeyRing) CheckSecret(ctx context.Context) error {
	stored, err := r.src.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	sealed := 0
	for _, sk := range stored {
		if len(sk.PrivateKey) == 0 {
			continue
		}
		sealed++
		if der, err := r.cipher.Open(sk.PrivateKey, []byte(sk.ID)); err == nil {
			clear(der)
			return nil
		}
	}
	if sealed == 0 {
		return nil
	}
	return ErrSecretKeyMismatch
}

// openPrivate decrypts and parses a signing key's private part and checks that it
// belongs to the stored public key.
func (r *KeyRing) openPrivate(sk domain.SigningKey, pub crypto.PublicKey) (crypto.Signer, error) {
	der, err := r.cipher.Open(sk.PrivateKey, []byte(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("open private key (is GATEHOUSE_SECRET_KEY the one it was sealed with?): %w", err)
	}
	defer clear(der)
	p, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := p.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", p)
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, errors.New("private key does not match the stored public key")
	}
	return signer, nil
}

// jwk is a public JSON Web Key (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2). It has
// no field for a private member, so none can leak into the JWKS.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}
