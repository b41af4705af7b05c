package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gatehouse/domain"
)

// ScopeStore keeps the scopes an administrator described (gatehouse scopes).
type ScopeStore interface {
	// CreateScope stores s; ErrDuplicate when its name is taken.
	CreateScope(ctx context.Context, s domain.ScopeInfo) error
	// ListScopes returns every described scope, by name.
	ListScopes(ctx context.Context) ([]domain.ScopeInfo, error)
	// ScopesNamed returns those of names that are described, by name.
	ScopesNamed(ctx context.Context, names []string) (map[string]domain.ScopeInfo, error)
	// DeleteScope deletes the description; ErrNotFound when there is none.
	DeleteScope(ctx context.Context, name string) error
}

// Scopes administers the scope descriptions the consent page shows, recording every
// change in the audit log.
type Scopes struct {
	store ScopeStore
	clock Clock
	audit *Audit
}

// NewScopes builds the use case.
func NewScopes(store ScopeStore, clock Clock, audit *Audit) *Scopes {
	return &Scopes{store: store, clock: clock, audit: audit}
}

// Create describes a scope. Bad input and a name already described are a
// *ValidationError.
func (uc *Scopes) Create(ctx context.Context, s domain.ScopeInfo) (domain.ScopeInfo, error) {
	if err := domain.ValidateScopeInfo(s); err != nil {
		return domain.ScopeInfo{}, &ValidationError{Field: "name", Message: err.Error()}
	}
	s.CreatedAt = uc.clock.Now().UTC()
	langs := make([]string, 0, len(s.Localized))
	for l := range s.Localized {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	err := uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditScopeCreated, Target: s.Name,
		Details: map[string]any{"languages": langs}},
		func(ctx context.Context) error { return uc.store.CreateScope(ctx, s) })
	if errors.Is(err, domain.ErrDuplicate) {
		return domain.ScopeInfo{}, &ValidationError{Field: "name",
			Message: fmt.Sprintf("scope %q is described already; delete it first to describe it anew", s.Name)}
	}
	if err != nil {
		return domain.ScopeInfo{}, fmt.Errorf("create scope: %w", err)
	}
	return s, nil
}

// List returns every described scope.
func (uc *Scopes) List(ctx context.Context) ([]domain.ScopeInfo, error) {
	return uc.store.ListScopes(ctx)
}

// Delete removes a description: the consent page names the scope again. ErrNotFound
// when there is none.
func (uc *Scopes) Delete(ctx context.Context, name string) error {
	return uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditScopeDeleted, Target: name},
		func(ctx context.Context) error { return uc.store.DeleteScope(ctx, name) })
}

// Described returns the administrator's descriptions of those of names that have
// one (the consent page shows them instead of the names).
func (uc *Scopes) Described(ctx context.Context, names []string) (map[string]domain.ScopeInfo, error) {
	if uc == nil || len(names) == 0 {
		return nil, nil
	}
	return uc.store.ScopesNamed(ctx, names)
}
