package usecase

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gatehouse/domain"
)

// ResourceStore keeps the registered protected resources (gatehouse resources).
type ResourceStore interface {
	// CreateResource stores r; ErrDuplicate when its URI is taken.
	CreateResource(ctx context.Context, r domain.Resource) error
	// ListResources returns every resource, by URI.
	ListResources(ctx context.Context) ([]domain.Resource, error)
	// OpenResources returns those of uris that are registered as open, in the order
	// of uris (each once).
	OpenResources(ctx context.Context, uris []string) ([]domain.Resource, error)
	// DeleteResource deletes the resource; ErrNotFound when there is none.
	DeleteResource(ctx context.Context, uri string) error
}

// Resources administers the protected resources, recording every change in the
// audit log.
type Resources struct {
	store ResourceStore
	clock Clock
	audit *Audit
}

// NewResources builds the use case.
func NewResources(store ResourceStore, clock Clock, audit *Audit) *Resources {
	return &Resources{store: store, clock: clock, audit: audit}
}

// Create registers a resource. Bad input is a *ValidationError; a taken URI one too.
func (uc *Resources) Create(ctx context.Context, r domain.Resource) (domain.Resource, error) {
	r.Scopes = slices.Compact(slices.Sorted(slices.Values(r.Scopes)))
	if err := domain.ValidateResource(r); err != nil {
		return domain.Resource{}, &ValidationError{Field: "uri", Message: err.Error()}
	}
	r.CreatedAt = uc.clock.Now().UTC()
	details := map[string]any{"name": r.Name, "open": r.Open}
	err := uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditResourceCreated, Target: r.URI, Details: details},
		func(ctx context.Context) error { return uc.store.CreateResource(ctx, r) })
	if errors.Is(err, domain.ErrDuplicate) {
		return domain.Resource{}, &ValidationError{Field: "uri", Message: fmt.Sprintf("a resource %q exists already", r.URI)}
	}
	if err != nil {
		return domain.Resource{}, fmt.Errorf("create resource: %w", err)
	}
	return r, nil
}

// List returns every resource.
func (uc *Resources) List(ctx context.Context) ([]domain.Resource, error) {
	return uc.store.ListResources(ctx)
}

// Delete removes a resource: clients may no longer ask for it unless it is in their
// own audience list. Tokens already issued for it stay valid until they expire.
// ErrNotFound when there is none.
func (uc *Resources) Delete(ctx context.Context, uri string) error {
	return uc.audit.Change(ctx, domain.AuditEvent{Type: domain.AuditResourceDeleted, Target: uri},
		func(ctx context.Context) error { return uc.store.DeleteResource(ctx, uri) })
}
