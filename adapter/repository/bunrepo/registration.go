package bunrepo

import (
	"context"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

var _ usecase.ClientRegistrationStore = (*ClientRepository)(nil)

// UpdateRegisteredClient replaces a client's metadata (RFC 7592 §2.2); the id, secret
// hash and creation time stay. With tokenHash, only while the stored registration
// token hash is that one (a compare-and-set: the new hash always differs, so MariaDB's
// count of changed rows is the count of matched ones). ErrNotFound when there is no
// such client or the hash moved on, ErrDuplicate when the new name is taken. Every
// instance drops its cached clients at once (TopicClients).
func (r *ClientRepository) UpdateRegisteredClient(ctx context.Context, c domain.Client, tokenHash []byte) error {
	row := clientToRow(c)
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model(&row).
			Column("name", "redirect_uris", "grant_types", "scopes", "post_logout_redirect_uris",
				"require_par", "registration_token_hash", "backchannel_logout_uri", "updated_at").
			WherePK()
		if tokenHash != nil {
			q = q.Where("registration_token_hash = ?", tokenHash)
		}
		res, err := q.Exec(ctx)
		if err := mustAffect(res, err, "update registered client %q", c.ID); err != nil {
			return err
		}
		return markChanged(ctx, tx, TopicClients)
	})
}
