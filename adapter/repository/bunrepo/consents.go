package bunrepo

import (
	"context"
	"crypto/sha256"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// ConsentRepository remembers consents: one per user and client for every redirect URI
// (table consents, a confidential client's), and one per user, client and exact
// redirect URI (table redirect_uri_consents, a public client's). The two never answer
// for each other.
type ConsentRepository struct {
	db *bun.DB
}

var _ usecase.ConsentStore = (*ConsentRepository)(nil)

// NewConsentRepository returns a repository over db.
func NewConsentRepository(db *bun.DB) *ConsentRepository { return &ConsentRepository{db: db} }

// consentURIKey is the key of a redirect URI in redirect_uri_consents: its SHA-256,
// because a URI may be longer than MySQL lets a primary key be. Not a secret.
func consentURIKey(redirectURI string) []byte {
	h := sha256.Sum256([]byte(redirectURI))
	return h[:]
}

// ConsentFor returns the user's consent for the client at exactly redirectURI ("":
// the consent for every redirect URI); ErrNotFound when none.
func (r *ConsentRepository) ConsentFor(ctx context.Context, userID, clientID, redirectURI string) (domain.Consent, error) {
	if redirectURI == "" {
		var row consentRow
		if err := conn(ctx, r.db).NewSelect().Model(&row).
			Where("user_id = ?", userID).
			Where("client_id = ?", clientID).
			Scan(ctx); err != nil {
			return domain.Consent{}, wrapErr(err, "select consent of user %q for client %q", userID, clientID)
		}
		return row.toDomain()
	}
	var row redirectURIConsentRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).
		Where("user_id = ?", userID).
		Where("client_id = ?", clientID).
		Where("redirect_uri_hash = ?", consentURIKey(redirectURI)).
		Scan(ctx); err != nil {
		return domain.Consent{}, wrapErr(err, "select consent of user %q for client %q at a redirect URI", userID, clientID)
	}
	return row.toDomain()
}

// SaveConsent stores c, replacing an earlier consent of the same user, client and
// redirect URI, in one atomic upsert (two tabs consenting at once both succeed; the
// last one stays).
func (r *ConsentRepository) SaveConsent(ctx context.Context, c domain.Consent) error {
	var q *bun.InsertQuery
	var key string
	if c.RedirectURI == "" {
		q = conn(ctx, r.db).NewInsert().Model(&consentRow{UserID: c.UserID, ClientID: c.ClientID,
			Scope: encodeList(c.Scope), GrantedAt: c.GrantedAt})
		key = "user_id, client_id"
	} else {
		q = conn(ctx, r.db).NewInsert().Model(&redirectURIConsentRow{UserID: c.UserID, ClientID: c.ClientID,
			RedirectURIHash: consentURIKey(c.RedirectURI), RedirectURI: c.RedirectURI,
			Scope: encodeList(c.Scope), GrantedAt: c.GrantedAt})
		key = "user_id, client_id, redirect_uri_hash"
	}
	q = q.Returning("NULL")
	if r.db.Dialect().Name() == dialect.MySQL {
		q = q.On("DUPLICATE KEY UPDATE").
			Set("scope = VALUES(scope)").
			Set("granted_at = VALUES(granted_at)")
	} else {
		q = q.On("CONFLICT (" + key + ") DO UPDATE").
			Set("scope = EXCLUDED.scope").
			Set("granted_at = EXCLUDED.granted_at")
	}
	if _, err := q.Exec(ctx); err != nil {
		return wrapErr(err, "save consent of user %q for client %q", c.UserID, c.ClientID)
	}
	return nil
}

// UserConsents lists the user's consents of both kinds, by the primary keys that
// start with user_id: the confidential clients' first, then the per-URI ones.
func (r *ConsentRepository) UserConsents(ctx context.Context, userID string) ([]domain.Consent, error) {
	var rows []consentRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).Where("user_id = ?", userID).OrderExpr("client_id").Scan(ctx); err != nil {
		return nil, wrapErr(err, "select consents of user %q", userID)
	}
	var uriRows []redirectURIConsentRow
	if err := conn(ctx, r.db).NewSelect().Model(&uriRows).Where("user_id = ?", userID).OrderExpr("client_id").Scan(ctx); err != nil {
		return nil, wrapErr(err, "select per-URI consents of user %q", userID)
	}
	out := make([]domain.Consent, 0, len(rows)+len(uriRows))
	for _, row := range rows {
		c, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for _, row := range uriRows {
		c, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// DeleteConsents deletes the user's consents for the client from both tables, in one
// transaction.
func (r *ConsentRepository) DeleteConsents(ctx context.Context, userID, clientID string) error {
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, table := range []string{"consents", "redirect_uri_consents"} {
			if _, err := tx.NewRaw("DELETE FROM ? WHERE user_id = ? AND client_id = ?", bun.Ident(table), userID, clientID).Exec(ctx); err != nil {
				return wrapErr(err, "delete consents of user %q for client %q", userID, clientID)
			}
		}
		return nil
	})
}
