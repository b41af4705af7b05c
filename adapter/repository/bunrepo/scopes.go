package bunrepo

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Migration 20260409000001 (issue 25): the scopes an administrator described
// (gatehouse scopes), by name; the descriptions in other languages are a JSON object
// by language tag.
func scopeDescriptionsTable() []tableDef {
	return []tableDef{{
		name: "scope_descriptions",
		columns: []column{col("name", typeID), col("description", typeText), col("localized", typeText),
			col("created_at", typeTime)},
		primaryKey: []string{"name"},
	}}
}

type scopeRow struct {
	bun.BaseModel `bun:"table:scope_descriptions"`

	Name        string    `bun:"name,pk"`
	Description string    `bun:"description"`
	Localized   string    `bun:"localized"`
	CreatedAt   time.Time `bun:"created_at"`
}

func (r scopeRow) toDomain() (domain.ScopeInfo, error) {
	s := domain.ScopeInfo{Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt.UTC()}
	if r.Localized != "" {
		if err := json.Unmarshal([]byte(r.Localized), &s.Localized); err != nil {
			return domain.ScopeInfo{}, err
		}
	}
	if s.Localized == nil {
		s.Localized = map[string]string{}
	}
	return s, nil
}

// ScopeRepository stores the scope descriptions.
type ScopeRepository struct {
	db *bun.DB
}

var _ usecase.ScopeStore = (*ScopeRepository)(nil)

// NewScopeRepository returns a repository over db.
func NewScopeRepository(db *bun.DB) *ScopeRepository { return &ScopeRepository{db: db} }

// CreateScope stores s; ErrDuplicate when its name is taken.
func (r *ScopeRepository) CreateScope(ctx context.Context, s domain.ScopeInfo) error {
	localized := s.Localized
	if localized == nil {
		localized = map[string]string{}
	}
	b, err := json.Marshal(localized)
	if err != nil {
		return wrapErr(err, "encode the descriptions of scope %q", s.Name)
	}
	row := scopeRow{Name: s.Name, Description: s.Description, Localized: string(b),
		CreatedAt: s.CreatedAt.UTC().Truncate(time.Microsecond)}
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "insert scope %q", s.Name)
	}
	return nil
}

// ListScopes returns every described scope, by name.
func (r *ScopeRepository) ListScopes(ctx context.Context) ([]domain.ScopeInfo, error) {
	var rows []scopeRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).OrderExpr("name ASC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list scopes")
	}
	return scopesOf(rows)
}

// ScopesNamed returns those of names that are described, by name.
func (r *ScopeRepository) ScopesNamed(ctx context.Context, names []string) (map[string]domain.ScopeInfo, error) {
	out := map[string]domain.ScopeInfo{}
	if len(names) == 0 {
		return out, nil
	}
	var rows []scopeRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).Where("name IN (?)", bun.In(names)).Scan(ctx); err != nil {
		return nil, wrapErr(err, "look up scope descriptions")
	}
	list, err := scopesOf(rows)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		out[s.Name] = s
	}
	return out, nil
}

func scopesOf(rows []scopeRow) ([]domain.ScopeInfo, error) {
	out := make([]domain.ScopeInfo, 0, len(rows))
	for _, row := range rows {
		s, err := row.toDomain()
		if err != nil {
			return nil, wrapErr(err, "read scope %q", row.Name)
		}
		out = append(out, s)
	}
	return out, nil
}

// DeleteScope deletes the description; ErrNotFound when there is none.
func (r *ScopeRepository) DeleteScope(ctx context.Context, name string) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*scopeRow)(nil)).Where("name = ?", name).Exec(ctx)
	return mustAffect(res, err, "delete scope %q", name)
}
