package bunrepo

import (
	"context"
	"crypto/sha256"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// ConsentRepository remembers one consent per user, client and redirect URI ("" for a
// confidential client's consent, which holds for all its redirect URIs).
type ConsentRepository struct {
	db *bun.DB
}

var _ usecase.ConsentStore = (*ConsentRepository)(nil)

// NewConsentRepository returns a repository over db.
func NewConsentRepository(db *bun.DB) *ConsentRepository { return &ConsentRepository{db: db} }

// consentURIKey is the key column for a redirect URI: its SHA-256, because a URI may
// be longer than MySQL lets a primary key be. Not a secret: a plain hash. "" has a
// key too (the hash of nothing), so that the column is never NULL or empty.
func consentURIKey(redirectURI string) []byte {
	h := sha256.Sum256([]byte(redirectURI))
	return h[:]
}

// ConsentFor returns the user's consent for the client at exactly redirectURI;
// ErrNotFound when none.
func (r *ConsentRepository) ConsentFor(ctx context.Context, userID, clientID, redirectURI string) (domain.Consent, error) {
	var row consentRow
	if err := r.db.NewSelect().Model(&row).
		Where("user_id = ?", userID).
		Where("client_id = ?", clientID).
		Where("redirect_uri_hash = ?", consentURIKey(redirectURI)).
		Scan(ctx); err != nil {
		return domain.Consent{}, wrapErr(err, "select consent of user %q for client %q", userID, clientID)
	}
	return row.toDomain()
}

// SaveConsent stores c, replacing an earlier consent of the same user, client and
// redirect URI, in one atomic upsert (two tabs consenting at once both succeed; the
// last one stays).
func (r *ConsentRepository) SaveConsent(ctx context.Context, c domain.Consent) error {
	row := consentRow{UserID: c.UserID, ClientID: c.ClientID, RedirectURI: c.RedirectURI,
		RedirectURIHash: consentURIKey(c.RedirectURI), Scope: encodeList(c.Scope), GrantedAt: c.GrantedAt}
	q := r.db.NewInsert().Model(&row).Returning("NULL")
	if r.db.Dialect().Name() == dialect.MySQL {
		q = q.On("DUPLICATE KEY UPDATE").
			Set("scope = VALUES(scope)").
			Set("granted_at = VALUES(granted_at)")
	} else {
		q = q.On("CONFLICT (user_id, client_id, redirect_uri_hash) DO UPDATE").
			Set("scope = EXCLUDED.scope").
			Set("granted_at = EXCLUDED.granted_at")
	}
	if _, err := q.Exec(ctx); err != nil {
		return wrapErr(err, "save consent of user %q for client %q", c.UserID, c.ClientID)
	}
	return nil
}
