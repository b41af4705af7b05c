package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/domain"
)

// retiredKeyMargin keeps a retired key published this long beyond the longest token
// lifetime after it stopped signing: clock skew, and instances still signing with it
// until their next key refresh.
const retiredKeyMargin = time.Minute

// Keys manages signing keys: one signing key per algorithm in use, rotation that
// publishes the new key before it signs and keeps old public keys published until
// every token they signed has expired (SECURITY S36).
type Keys struct {
	store    KeyStore
	gen      KeyGenerator
	clock    Clock
	settings Settings
	// audit records rotations and revocations with their change; nil records none.
	audit *Audit
}

// NewKeys builds key management.
func NewKeys(store KeyStore, gen KeyGenerator, clock Clock, settings Settings) *Keys {
	return &Keys{store: store, gen: gen, clock: clock, settings: settings}
}

// NewAuditedKeys is NewKeys recording every rotation and revocation in the audit log,
// in the transaction of the change (SECURITY S56).
func NewAuditedKeys(store KeyStore, gen KeyGenerator, clock Clock, settings Settings, audit *Audit) *Keys {
	k := NewKeys(store, gen, clock, settings)
	k.audit = audit
	return k
}

// AuditActorSchedule is the actor of the scheduled key rotation.
const AuditActorSchedule = "schedule"

// RequiredAlgs are the algs that must always have an active key: the access-token alg
// and RS256 for ID tokens (OpenID Connect Core §15.1), plus any alg a client chose.
func (k *Keys) RequiredAlgs() []string {
	algs := []string{string(k.settings.SigningAlg)}
	if !slices.Contains(algs, domain.AlgRS256) {
		algs = append(algs, domain.AlgRS256)
	}
	return algs
}

// Ensure creates a key that signs at once for every required alg that has no current
// key (first start).
func (k *Keys) Ensure(ctx context.Context, extraAlgs ...string) error {
	keys, err := k.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	for _, alg := range k.algs(extraAlgs) {
		if _, ok := domain.CurrentKey(keys, alg); ok {
			continue
		}
		key, err := k.gen.GenerateKey(alg, k.clock.Now())
		if err != nil {
			return fmt.Errorf("generate %s key: %w", alg, err)
		}
		if err := k.store.CreateKey(ctx, key); err != nil {
			if errors.Is(err, domain.ErrDuplicate) {
				// Another instance starting at the same time made the key first; the
				// store keeps at most one current key per alg, so theirs serves.
				continue
			}
			return fmt.Errorf("store %s key: %w", alg, err)
		}
		keys = append(keys, key)
	}
	return nil
}

// algs is RequiredAlgs plus extra, without repeats.
func (k *Keys) algs(extra []string) []string {
	algs := k.RequiredAlgs()
	for _, a := range extra {
		if a != "" && !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	return algs
}

// Rotate makes a new key of alg (the access-token alg when empty) the next signing
// key. The key is stored, and so published by every instance within a second (the
// store announces the change; the key refresh interval is the backstop), at once; it signs from the activation delay on (at once when immediate,
// or when the delay is zero), the instant the alg's current key is retired. A
// retired key stays published for the longest token lifetime plus a margin after it
// stopped signing.
//
// While a delayed rotation's key is pending, another delayed rotation of the alg is
// refused with a *domain.KeyPendingError: at most one key per alg waits, and it
// cannot be pushed back forever. An immediate rotation (for a compromised key)
// always goes through; it retires the pending key too, which never signed.
func (k *Keys) Rotate(ctx context.Context, alg string, immediate bool) (domain.SigningKey, error) {
	if alg == "" {
		alg = string(k.settings.SigningAlg)
	}
	if err := domain.ValidateAlg(alg); err != nil {
		return domain.SigningKey{}, &ValidationError{Field: "alg", Message: err.Error()}
	}
	delay := time.Duration(k.settings.KeyActivationDelay)
	if immediate {
		delay = 0
	}
	return k.rotate(ctx, alg, delay, "")
}

func (k *Keys) rotate(ctx context.Context, alg string, delay time.Duration, replaces string) (domain.SigningKey, error) {
	// Microseconds, which every database keeps: the key returned (and printed by the
	// CLI) has the times the store lists afterwards.
	now := k.clock.Now().Truncate(time.Microsecond)
	key, err := k.gen.GenerateKey(alg, now)
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	key.ActivatesAt = now.Add(delay)
	longest := max(time.Duration(k.settings.AccessTokenTTL), time.Duration(k.settings.IDTokenTTL))
	rotation := KeyRotation{Key: key, Now: now, OldExpiresAt: key.ActivatesAt.Add(longest + retiredKeyMargin), Replaces: replaces}
	err = k.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditKeyRotated, Target: key.ID,
		Details: map[string]any{"alg": alg}}, func(ctx context.Context) error { return k.store.RotateKey(ctx, rotation) })
	switch {
	case errors.Is(err, domain.ErrKeyPending), errors.Is(err, domain.ErrKeyRotated):
		return domain.SigningKey{}, err // says what happened as it is
	case err != nil:
		return domain.SigningKey{}, fmt.Errorf("store rotated %s key: %w", alg, err)
	}
	return key, nil
}

// Revoke revokes the signing key kid, a compromised one: every instance drops it from
// its JWKS at once, so every token it signed is refused by introspection and
// userinfo, and it never signs again. When it signed, or was to sign later (a pending
// key), a new key of its alg signs from now on, without the activation delay: a
// compromised key cannot wait for one. Revoking a revoked key changes nothing and says
// so (AlreadyRevoked); an unknown kid is domain.ErrNotFound.
func (k *Keys) Revoke(ctx context.Context, kid string) (domain.KeyRevocation, error) {
	keys, err := k.store.ListKeys(ctx)
	if err != nil {
		return domain.KeyRevocation{}, fmt.Errorf("list signing keys: %w", err)
	}
	i := slices.IndexFunc(keys, func(sk domain.SigningKey) bool { return sk.ID == kid })
	if i < 0 {
		return domain.KeyRevocation{}, fmt.Errorf("signing key %q: %w", kid, domain.ErrNotFound)
	}
	old := keys[i]
	if old.Revoked() {
		return domain.KeyRevocation{Key: old, AlreadyRevoked: true}, nil
	}
	now := k.clock.Now().Truncate(time.Microsecond)
	rev := KeyRevocation{KID: kid, Now: now}
	// The store decides, in its transaction, whether the replacement is needed; it is
	// made here because generating an RSA key takes a while, which no transaction
	// should wait for. Should the key retire meanwhile, the replacement is dropped.
	if old.SignsNowOrLater(now) {
		repl, err := k.gen.GenerateKey(old.Alg, now)
		if err != nil {
			return domain.KeyRevocation{}, fmt.Errorf("generate %s key: %w", old.Alg, err)
		}
		repl.ActivatesAt = now
		rev.Replacement = &repl
		longest := max(time.Duration(k.settings.AccessTokenTTL), time.Duration(k.settings.IDTokenTTL))
		rev.OldExpiresAt = now.Add(longest + retiredKeyMargin)
	}
	var out domain.KeyRevocation
	err = k.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditKeyRevoked, Target: kid,
		Details: map[string]any{"alg": old.Alg}}, func(ctx context.Context) error {
		var err error
		out, err = k.store.RevokeKey(ctx, rev)
		return err
	})
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return domain.KeyRevocation{}, err
		}
		return domain.KeyRevocation{}, fmt.Errorf("revoke signing key %s: %w", kid, err)
	}
	return out, nil
}

// RotateDue is one round of scheduled rotation: every required alg (and every one
// of extraAlgs) whose current key signs and is older than the rotation interval gets
// a successor, with the activation delay, so old and new overlap. A key that a
// concurrent rotation made first is left alone. It returns the new keys.
func (k *Keys) RotateDue(ctx context.Context, extraAlgs ...string) ([]domain.SigningKey, error) {
	interval := time.Duration(k.settings.KeyRotationInterval)
	if interval <= 0 {
		return nil, nil
	}
	keys, err := k.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	var rotated []domain.SigningKey
	var errs []error
	for _, alg := range k.algs(extraAlgs) {
		cur, due := domain.RotationDue(keys, alg, k.clock.Now(), interval)
		if !due {
			continue
		}
		key, err := k.rotate(WithAuditActor(ctx, AuditActorSchedule), alg, time.Duration(k.settings.KeyActivationDelay), cur.ID)
		switch {
		case errors.Is(err, domain.ErrKeyPending), errors.Is(err, domain.ErrKeyRotated):
			continue // another rotation got there first: nothing is due any more
		case err != nil:
			errs = append(errs, err)
			continue
		}
		rotated = append(rotated, key)
	}
	return rotated, errors.Join(errs...)
}

// List returns every key, newest first.
func (k *Keys) List(ctx context.Context) ([]domain.SigningKey, error) {
	keys, err := k.store.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(keys, func(a, b domain.SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return keys, nil
}

// KeyRotationLease names the lease of scheduled key rotation.
const KeyRotationLease = "key_rotation"

// KeySchedule runs scheduled key rotation (GATEHOUSE_KEY_ROTATION_INTERVAL): when
// several instances share a database only the lease holder rotates, and the store
// refuses a rotation of a key another one already replaced, so each key is
// replaced once even when two holders overlap (a holder that stalled past its lease).
type KeySchedule struct {
	keys   *Keys
	leases Leases
	clock  Clock
	holder string
}

// NewKeySchedule builds the job; holder identifies this instance.
func NewKeySchedule(keys *Keys, leases Leases, clock Clock, random Random) *KeySchedule {
	return &KeySchedule{keys: keys, leases: leases, clock: clock, holder: random.ID()}
}

// Enabled reports whether scheduled rotation is on.
func (s *KeySchedule) Enabled() bool { return s.keys.settings.KeyRotationInterval > 0 }

// RunOnce rotates what is due if this instance holds (or takes) the lease; ran
// reports whether it did. extraAlgs, when not nil, names algs to rotate besides the
// required ones (those clients chose for ID tokens); only the holder calls it.
func (s *KeySchedule) RunOnce(ctx context.Context, leaseTTL time.Duration, extraAlgs func(context.Context) []string) (rotated []domain.SigningKey, ran bool, err error) {
	if !s.Enabled() {
		return nil, false, nil
	}
	ok, err := s.leases.AcquireLease(ctx, KeyRotationLease, s.holder, s.clock.Now(), leaseTTL)
	if err != nil {
		return nil, false, fmt.Errorf("acquire key rotation lease: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	var extra []string
	if extraAlgs != nil {
		extra = extraAlgs(ctx)
	}
	rotated, err = s.keys.RotateDue(ctx, extra...)
	if err != nil {
		return rotated, true, fmt.Errorf("scheduled key rotation: %w", err)
	}
	return rotated, true, nil
}

// Release gives the lease up (at shutdown), so another instance takes over at once.
func (s *KeySchedule) Release(ctx context.Context) error {
	return s.leases.ReleaseLease(ctx, KeyRotationLease, s.holder)
}
