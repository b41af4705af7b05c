package bunrepo

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// UpstreamRepository keeps the upstream identity providers and the identities linked
// through them (issue 22).
type UpstreamRepository struct {
	db *bun.DB
}

var _ usecase.UpstreamStore = (*UpstreamRepository)(nil)

// NewUpstreamRepository returns a repository over db.
func NewUpstreamRepository(db *bun.DB) *UpstreamRepository { return &UpstreamRepository{db: db} }

type upstreamRow struct {
	bun.BaseModel `bun:"table:upstreams"`
	ID            string    `bun:"id,pk"`
	Name          string    `bun:"name"`
	Type          string    `bun:"type"`
	Issuer        string    `bun:"issuer"`
	ClientID      string    `bun:"client_id"`
	Secret        []byte    `bun:"secret"`
	Scopes        string    `bun:"scopes"`
	APIURL        string    `bun:"api_url"`
	WebURL        string    `bun:"web_url"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

type identityRow struct {
	bun.BaseModel `bun:"table:user_identities"`
	UpstreamID    string    `bun:"upstream_id,pk"`
	Subject       string    `bun:"subject,pk"`
	UserID        string    `bun:"user_id"`
	Email         string    `bun:"email"`
	Username      string    `bun:"username"`
	CreatedAt     time.Time `bun:"created_at"`
	LastUsedAt    time.Time `bun:"last_used_at"`
}

func upstreamToRow(u domain.Upstream) upstreamRow {
	return upstreamRow{ID: u.ID, Name: u.Name, Type: u.Type, Issuer: u.Issuer, ClientID: u.ClientID, Secret: u.SealedSecret,
		Scopes: strings.Join(u.Scopes, " "), APIURL: u.APIURL, WebURL: u.WebURL, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func (r upstreamRow) toDomain() domain.Upstream {
	return domain.Upstream{ID: r.ID, Name: r.Name, Type: r.Type, Issuer: r.Issuer, ClientID: r.ClientID, SealedSecret: r.Secret,
		Scopes: strings.Fields(r.Scopes), APIURL: r.APIURL, WebURL: r.WebURL, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func (r identityRow) toDomain() domain.LinkedIdentity {
	return domain.LinkedIdentity{UpstreamID: r.UpstreamID, Subject: r.Subject, UserID: r.UserID, Email: r.Email,
		Username: r.Username, CreatedAt: utc(r.CreatedAt), LastUsedAt: utc(r.LastUsedAt)}
}

// CreateUpstream: see usecase.UpstreamStore.
func (r *UpstreamRepository) CreateUpstream(ctx context.Context, u domain.Upstream) error {
	row := upstreamToRow(u)
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "insert upstream %q", u.ID)
	}
	return nil
}

// UpdateUpstream: see usecase.UpstreamStore.
func (r *UpstreamRepository) UpdateUpstream(ctx context.Context, u domain.Upstream) error {
	row := upstreamToRow(u)
	res, err := conn(ctx, r.db).NewUpdate().Model(&row).ExcludeColumn("id", "created_at").WherePK().Exec(ctx)
	n, err := rowsAffected(res, err, "update upstream %q", u.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		// MySQL counts only changed rows: tell "unchanged" from "gone".
		if _, err := r.Upstream(ctx, u.ID); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUpstream: see usecase.UpstreamStore; the identities go first, in one transaction.
func (r *UpstreamRepository) DeleteUpstream(ctx context.Context, id string) error {
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*identityRow)(nil)).Where("upstream_id = ?", id).Exec(ctx); err != nil {
			return wrapErr(err, "delete identities of upstream %q", id)
		}
		res, err := tx.NewDelete().Model((*upstreamRow)(nil)).Where("id = ?", id).Exec(ctx)
		n, err := rowsAffected(res, err, "delete upstream %q", id)
		if err != nil {
			return err
		}
		if n == 0 {
			return wrapErr(domain.ErrNotFound, "delete upstream %q", id)
		}
		return nil
	})
}

// Upstream: see usecase.UpstreamStore.
func (r *UpstreamRepository) Upstream(ctx context.Context, id string) (domain.Upstream, error) {
	var row upstreamRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return domain.Upstream{}, wrapErr(err, "select upstream %q", id)
	}
	return row.toDomain(), nil
}

// ListUpstreams: see usecase.UpstreamStore.
func (r *UpstreamRepository) ListUpstreams(ctx context.Context) ([]domain.Upstream, error) {
	var rows []upstreamRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list upstreams")
	}
	out := make([]domain.Upstream, len(rows))
	for i, row := range rows {
		out[i] = row.toDomain()
	}
	return out, nil
}

// LinkIdentity: see usecase.UpstreamStore; the primary key (upstream, subject)
// refuses a second link, the foreign keys a gone user or upstream.
func (r *UpstreamRepository) LinkIdentity(ctx context.Context, l domain.LinkedIdentity) error {
	row := identityRow{UpstreamID: l.UpstreamID, Subject: l.Subject, UserID: l.UserID, Email: l.Email, Username: l.Username,
		CreatedAt: l.CreatedAt.UTC(), LastUsedAt: l.LastUsedAt.UTC()}
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "link identity at upstream %q to user %q", l.UpstreamID, l.UserID)
	}
	return nil
}

// LinkedIdentity: see usecase.UpstreamStore.
func (r *UpstreamRepository) LinkedIdentity(ctx context.Context, upstreamID, subject string) (domain.LinkedIdentity, error) {
	var row identityRow
	err := conn(ctx, r.db).NewSelect().Model(&row).Where("upstream_id = ? AND subject = ?", upstreamID, subject).Scan(ctx)
	if err != nil {
		return domain.LinkedIdentity{}, wrapErr(err, "select identity at upstream %q", upstreamID)
	}
	return row.toDomain(), nil
}

// UserIdentities: see usecase.UpstreamStore.
func (r *UpstreamRepository) UserIdentities(ctx context.Context, userID string) ([]domain.LinkedIdentity, error) {
	var rows []identityRow
	err := conn(ctx, r.db).NewSelect().Model(&rows).Where("user_id = ?", userID).
		OrderExpr("created_at ASC, upstream_id ASC, subject ASC").Scan(ctx)
	if err != nil {
		return nil, wrapErr(err, "list identities of user %q", userID)
	}
	out := make([]domain.LinkedIdentity, len(rows))
	for i, row := range rows {
		out[i] = row.toDomain()
	}
	return out, nil
}

// TouchIdentity: see usecase.UpstreamStore.
func (r *UpstreamRepository) TouchIdentity(ctx context.Context, upstreamID, subject, email, username string, now time.Time) error {
	_, err := conn(ctx, r.db).NewUpdate().Model((*identityRow)(nil)).
		Set("email = ?", email).Set("username = ?", username).Set("last_used_at = ?", now.UTC()).
		Where("upstream_id = ? AND subject = ?", upstreamID, subject).Exec(ctx)
	if err != nil {
		return wrapErr(err, "touch identity at upstream %q", upstreamID)
	}
	return nil
}

// UnlinkIdentity: see usecase.UpstreamStore.
func (r *UpstreamRepository) UnlinkIdentity(ctx context.Context, userID, upstreamID, subject string) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*identityRow)(nil)).
		Where("user_id = ? AND upstream_id = ? AND subject = ?", userID, upstreamID, subject).Exec(ctx)
	n, err := rowsAffected(res, err, "unlink identity at upstream %q from user %q", upstreamID, userID)
	if err != nil {
		return err
	}
	if n == 0 {
		return wrapErr(domain.ErrNotFound, "unlink identity at upstream %q from user %q", upstreamID, userID)
	}
	return nil
}

// upstreamsSchema: the upstreams (their client secrets sealed, as signing keys are)
// and the identities linked through them; both die with what they belong to.
func upstreamsSchema() []tableDef {
	return []tableDef{{
		name: "upstreams",
		columns: []column{col("id", typeID), col("name", typeText), col("type", typeID), col("issuer", typeText),
			col("client_id", typeText), col("secret", typeBlob), col("scopes", typeText), col("api_url", typeText),
			col("web_url", typeText), col("created_at", typeTime), col("updated_at", typeTime)},
		primaryKey: []string{"id"},
	}, {
		name: "user_identities",
		columns: []column{col("upstream_id", typeID), col("subject", typeID), col("user_id", typeID),
			col("email", typeText), col("username", typeText), col("created_at", typeTime), col("last_used_at", typeTime)},
		primaryKey:  []string{"upstream_id", "subject"},
		indexes:     []index{idx("user_id")},
		foreignKeys: []foreignKey{{"user_id", "users", "id"}, {"upstream_id", "upstreams", "id"}},
	}}
}
