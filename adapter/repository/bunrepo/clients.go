package bunrepo

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// ClientRepository stores OAuth clients. Names are unique; list columns are JSON.
type ClientRepository struct {
	db *bun.DB
}

var _ usecase.ClientAdminStore = (*ClientRepository)(nil)

// NewClientRepository returns a repository over db.
func NewClientRepository(db *bun.DB) *ClientRepository { return &ClientRepository{db: db} }

// ClientByID returns the client; ErrNotFound when there is none. It runs on every
// token request: one primary-key lookup.
func (r *ClientRepository) ClientByID(ctx context.Context, id string) (domain.Client, error) {
	var row clientRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return domain.Client{}, wrapErr(err, "select client %q", id)
	}
	return row.toDomain()
}

// CreateClient inserts c; ErrDuplicate when its id or name is taken. A new client
// needs no change notice: no instance keeps a client it did not find (markChanged).
func (r *ClientRepository) CreateClient(ctx context.Context, c domain.Client) error {
	row := clientToRow(c)
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "insert client %q", c.Name)
	}
	return nil
}

// ListClients returns every client, oldest first (ties by id).
func (r *ClientRepository) ListClients(ctx context.Context) ([]domain.Client, error) {
	var rows []clientRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).OrderExpr("created_at ASC, id ASC").Scan(ctx); err != nil {
		return nil, wrapErr(err, "list clients")
	}
	clients := make([]domain.Client, len(rows))
	for i, row := range rows {
		c, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		clients[i] = c
	}
	return clients, nil
}

// DeleteClient deletes the client and, by cascade, its codes, consents and refresh
// tokens. ErrNotFound when there is no such client. Every instance drops its cached
// clients at once (TopicClients).
func (r *ClientRepository) DeleteClient(ctx context.Context, id string) error {
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*clientRow)(nil)).Where("id = ?", id).Exec(ctx)
		if err := mustAffect(res, err, "delete client %q", id); err != nil {
			return err
		}
		return markChanged(ctx, tx, TopicClients)
	})
}

// UpdateClient replaces what an administrator may change of a client (clients
// update): everything but its id, secret, type (public or confidential), registration
// access token and creation time. ErrNotFound when there is no such client,
// ErrDuplicate when the new name is taken. Every instance drops its cached clients
// at once (TopicClients).
func (r *ClientRepository) UpdateClient(ctx context.Context, c domain.Client) error {
	row := clientToRow(c)
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model(&row).
			Column("name", "redirect_uris", "grant_types", "scopes", "audiences", "skip_consent", "id_token_alg",
				"post_logout_redirect_uris", "require_par", "require_dpop", "token_endpoint_auth_method", "jwks",
				"jwks_uri", "disabled", "pkce_optional", "backchannel_logout_uri", "require_mfa", "updated_at").
			WherePK().Exec(ctx)
		if err := mustAffect(res, err, "update client %q", c.ID); err != nil {
			return err
		}
		return markChanged(ctx, tx, TopicClients)
	})
}

// UpdateClientSecret replaces the secret hash; ErrNotFound when there is no such
// client. Every instance drops its cached clients at once (TopicClients), so the old
// secret stops working everywhere.
func (r *ClientRepository) UpdateClientSecret(ctx context.Context, id string, secretHash []byte, now time.Time) error {
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*clientRow)(nil)).
			Set("secret_hash = ?", emptyToNil(secretHash)).
			Set("updated_at = ?", now).
			Where("id = ?", id).
			Exec(ctx)
		if err := mustAffect(res, err, "update secret of client %q", id); err != nil {
			return err
		}
		return markChanged(ctx, tx, TopicClients)
	})
}

// IDTokenAlgs: see usecase.ClientAdminStore. It skips from one alg to the next in the
// id_token_alg index, a seek per alg, because a SELECT DISTINCT read every client at
// start-up: with many clients, that filled SQLite's page cache and stayed resident.
func (r *ClientRepository) IDTokenAlgs(ctx context.Context) ([]string, error) {
	var algs []string
	last := ""
	for {
		var next sql.NullString
		if err := conn(ctx, r.db).NewRaw("SELECT MIN(id_token_alg) FROM clients WHERE id_token_alg > ?", last).Scan(ctx, &next); err != nil {
			return nil, wrapErr(err, "list the ID token algs of clients")
		}
		if !next.Valid {
			return algs, nil
		}
		algs = append(algs, next.String)
		last = next.String
	}
}

// idTokenAlgIndex serves IDTokenAlgs.
func idTokenAlgIndex() index { return idx("id_token_alg") }

// idTokenAlgMigration is 20261206000002: the index IDTokenAlgs seeks in.
func idTokenAlgMigration() migrate.Migration {
	up, down := addIndex("clients", idTokenAlgIndex())
	return migrate.Migration{Name: "20261206000002", Comment: "client_id_token_alg_index", Up: up, Down: down}
}
