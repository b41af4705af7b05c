package bunrepo

import (
	"context"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Migration 20260404000001 (issue 24): the protected resources an administrator
// registered (gatehouse resources), by their URI.

// protectedResourcesTable: the URI is the key (at most domain.MaxResourceURI bytes);
// scopes are a JSON list.
func protectedResourcesTable() []tableDef {
	return []tableDef{{
		name: "protected_resources",
		columns: []column{col("uri", typeID), col("name", typeID), col("scopes", typeText), col("is_open", typeBool),
			col("created_at", typeTime)},
		primaryKey: []string{"uri"},
	}}
}

// clientUnusedExpiresAt is migration 20260404000002: when a client of open dynamic
// registration that was never used goes (housekeeping).
func clientUnusedExpiresAt() (string, column) {
	return "clients", nullCol("unused_expires_at", typeTime)
}

// unusedClientsIndex serves housekeeping's look for unused clients.
func unusedClientsIndex() index { return idx("unused_expires_at") }

// unusedClientsMigration is 20260404000002: the column and its index.
func unusedClientsMigration() migrate.Migration {
	u1, d1 := addColumn(clientUnusedExpiresAt)
	u2, d2 := addIndex("clients", unusedClientsIndex())
	return migrate.Migration{Name: "20260404000002", Comment: "client_unused_expires_at",
		Up: sequence([]migrationFunc{u1, u2}), Down: sequence([]migrationFunc{d2, d1})}
}

type resourceRow struct {
	bun.BaseModel `bun:"table:protected_resources"`

	URI       string    `bun:"uri,pk"`
	Name      string    `bun:"name"`
	Scopes    string    `bun:"scopes"`
	Open      bool      `bun:"is_open"`
	CreatedAt time.Time `bun:"created_at"`
}

func (r resourceRow) toDomain() (domain.Resource, error) {
	scopes, err := decodeList(r.Scopes)
	if err != nil {
		return domain.Resource{}, err
	}
	return domain.Resource{URI: r.URI, Name: r.Name, Scopes: scopes, Open: r.Open, CreatedAt: r.CreatedAt.UTC()}, nil
}

// ResourceRepository stores the protected resources.
type ResourceRepository struct {
	db *bun.DB
}

var _ usecase.ResourceStore = (*ResourceRepository)(nil)

// NewResourceRepository returns a repository over db.
func NewResourceRepository(db *bun.DB) *ResourceRepository { return &ResourceRepository{db: db} }

// CreateResource stores r; ErrDuplicate when its URI is taken.
func (r *ResourceRepository) CreateResource(ctx context.Context, res domain.Resource) error {
	row := resourceRow{URI: res.URI, Name: res.Name, Scopes: encodeList(res.Scopes), Open: res.Open,
		CreatedAt: res.CreatedAt.UTC().Truncate(time.Microsecond)}
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "insert resource %q", res.URI)
	}
	return nil
}

// ListResources returns every resource, by URI.
func (r *ResourceRepository) ListResources(ctx context.Context) ([]domain.Resource, error) {
	var rows []resourceRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).OrderExpr("uri ASC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list resources")
	}
	out := make([]domain.Resource, 0, len(rows))
	for _, row := range rows {
		res, err := row.toDomain()
		if err != nil {
			return nil, wrapErr(err, "read resource %q", row.URI)
		}
		out = append(out, res)
	}
	return out, nil
}

// OpenResources returns those of uris registered as open, in the order of uris.
func (r *ResourceRepository) OpenResources(ctx context.Context, uris []string) ([]domain.Resource, error) {
	if len(uris) == 0 {
		return nil, nil
	}
	var rows []resourceRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).
		Where("uri IN (?)", bun.In(uris)).Where("is_open = ?", true).Scan(ctx); err != nil {
		return nil, wrapErr(err, "look up open resources")
	}
	out := make([]domain.Resource, 0, len(rows))
	for _, u := range uris {
		for _, row := range rows {
			if row.URI != u || slices.ContainsFunc(out, func(r domain.Resource) bool { return r.URI == u }) {
				continue
			}
			res, err := row.toDomain()
			if err != nil {
				return nil, wrapErr(err, "read resource %q", row.URI)
			}
			out = append(out, res)
		}
	}
	return out, nil
}

// DeleteResource deletes the resource; ErrNotFound when there is none.
func (r *ResourceRepository) DeleteResource(ctx context.Context, uri string) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*resourceRow)(nil)).Where("uri = ?", uri).Exec(ctx)
	return mustAffect(res, err, "delete resource %q", uri)
}
