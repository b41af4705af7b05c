package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/domain"
)

// Keys manages signing keys: one active key per algorithm in use, rotation that keeps
// old public keys published until every token they signed has expired (SECURITY S36).
type Keys struct {
	store    KeyStore
	gen      KeyGenerator
	clock    Clock
	settings Settings
}

// NewKeys builds key management.
func NewKeys(store KeyStore, gen KeyGenerator, clock Clock, settings Settings) *Keys {
	return &Keys{store: store, gen: gen, clock: clock, settings: settings}
}

// RequiredAlgs are the algs that must always have an active key: the access-token alg
// and RS256 for ID tokens (OpenID Connect Core §15.1), plus any alg a client chose.
func (k *Keys) RequiredAlgs() []string {
	algs := []string{string(k.settings.SigningAlg)}
	if !slices.Contains(algs, domain.AlgRS256) {
		algs = append(algs, domain.AlgRS256)
	}
	return algs
}

// Ensure creates an active key for every required alg that lacks one (first start).
func (k *Keys) Ensure(ctx context.Context, extraAlgs ...string) error {
	keys, err := k.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	for _, alg := range append(k.RequiredAlgs(), extraAlgs...) {
		if slices.ContainsFunc(keys, func(x domain.SigningKey) bool { return x.Alg == alg && x.Active() }) {
			continue
		}
		key, err := k.gen.GenerateKey(alg, k.clock.Now())
		if err != nil {
			return fmt.Errorf("generate %s key: %w", alg, err)
		}
		if err := k.store.CreateKey(ctx, key); err != nil {
			if errors.Is(err, domain.ErrDuplicate) {
				// Another instance starting at the same time made the key first; the
				// store keeps at most one active key per alg, so theirs serves.
				continue
			}
			return fmt.Errorf("store %s key: %w", alg, err)
		}
		keys = append(keys, key)
	}
	return nil
}

// Rotate makes a new key of alg the signing key and retires the old one, which stays
// published for the longest token lifetime plus a margin for clock skew.
func (k *Keys) Rotate(ctx context.Context, alg string) (domain.SigningKey, error) {
	if alg == "" {
		alg = string(k.settings.SigningAlg)
	}
	if err := domain.ValidateAlg(alg); err != nil {
		return domain.SigningKey{}, &ValidationError{Field: "alg", Message: err.Error()}
	}
	now := k.clock.Now()
	key, err := k.gen.GenerateKey(alg, now)
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	longest := max(time.Duration(k.settings.AccessTokenTTL), time.Duration(k.settings.IDTokenTTL))
	if err := k.store.RotateKey(ctx, key, now.Add(longest+time.Minute)); err != nil {
		return domain.SigningKey{}, fmt.Errorf("store rotated key: %w", err)
	}
	return key, nil
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
