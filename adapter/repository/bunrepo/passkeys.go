package bunrepo

import (
	"context"
	"crypto/sha256"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// PasskeyRepository keeps the users' passkeys (WebAuthn credentials), in table
// user_passkeys (migration 20260401000001). A credential id may be up to 1023 bytes:
// the primary key is its SHA-256, so one credential id is one row whoever registers
// it (SECURITY S51: a credential belongs to one user).
type PasskeyRepository struct {
	db *bun.DB
}

var _ usecase.PasskeyStore = (*PasskeyRepository)(nil)

// NewPasskeyRepository returns a repository over db.
func NewPasskeyRepository(db *bun.DB) *PasskeyRepository { return &PasskeyRepository{db: db} }

type passkeyRow struct {
	bun.BaseModel  `bun:"table:user_passkeys"`
	CredentialHash []byte    `bun:"credential_hash,pk"`
	ID             string    `bun:"id"`
	UserID         string    `bun:"user_id"`
	CredentialID   []byte    `bun:"credential_id"`
	PublicKey      []byte    `bun:"public_key"`
	SignCount      int64     `bun:"sign_count"`
	AAGUID         []byte    `bun:"aaguid,nullzero"`
	Transports     string    `bun:"transports"`
	BackupEligible bool      `bun:"backup_eligible"`
	BackupState    bool      `bun:"backup_state"`
	UserVerified   bool      `bun:"user_verified"`
	Name           string    `bun:"name"`
	CreatedAt      time.Time `bun:"created_at"`
	LastUsedAt     time.Time `bun:"last_used_at,nullzero"`
}

func credentialHash(id []byte) []byte {
	h := sha256.Sum256(id)
	return h[:]
}

func (r passkeyRow) domain() domain.Passkey {
	return domain.Passkey{ID: r.ID, UserID: r.UserID, CredentialID: r.CredentialID, PublicKey: r.PublicKey,
		SignCount: uint32(r.SignCount), AAGUID: r.AAGUID, Transports: strings.Fields(r.Transports), //nolint:gosec // stored from a uint32
		BackupEligible: r.BackupEligible, BackupState: r.BackupState, UserVerified: r.UserVerified, Name: r.Name,
		CreatedAt: utc(r.CreatedAt), LastUsedAt: utc(r.LastUsedAt)}
}

// CreatePasskey: see usecase.PasskeyStore; the primary key refuses a credential id twice.
func (r *PasskeyRepository) CreatePasskey(ctx context.Context, p domain.Passkey) error {
	row := passkeyRow{CredentialHash: credentialHash(p.CredentialID), ID: p.ID, UserID: p.UserID, CredentialID: p.CredentialID,
		PublicKey: p.PublicKey, SignCount: int64(p.SignCount), AAGUID: p.AAGUID, Transports: strings.Join(p.Transports, " "),
		BackupEligible: p.BackupEligible, BackupState: p.BackupState, UserVerified: p.UserVerified, Name: p.Name,
		CreatedAt: p.CreatedAt.UTC(), LastUsedAt: p.LastUsedAt.UTC()}
	if _, err := insert(ctx, r.db, &row); err != nil {
		return wrapErr(err, "insert passkey of user %q", p.UserID)
	}
	return nil
}

// PasskeysOf: see usecase.PasskeyStore.
func (r *PasskeyRepository) PasskeysOf(ctx context.Context, userID string) ([]domain.Passkey, error) {
	var rows []passkeyRow
	if err := r.db.NewSelect().Model(&rows).Where("user_id = ?", userID).Order("created_at", "id").Scan(ctx); err != nil {
		return nil, wrapErr(err, "select passkeys of user %q", userID)
	}
	out := make([]domain.Passkey, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

// PasskeyByCredentialID: see usecase.PasskeyStore.
func (r *PasskeyRepository) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error) {
	var row passkeyRow
	if err := r.db.NewSelect().Model(&row).Where("credential_hash = ?", credentialHash(credentialID)).Scan(ctx); err != nil {
		return domain.Passkey{}, wrapErr(err, "select a passkey")
	}
	return row.domain(), nil
}

// UsePasskey: see usecase.PasskeyStore. The WHERE decides between racing callers and
// refuses a counter that did not go up.
func (r *PasskeyRepository) UsePasskey(ctx context.Context, credentialID []byte, signCount uint32, backupState bool, now time.Time) (bool, error) {
	n := int64(signCount)
	res, err := r.db.NewRaw("UPDATE user_passkeys SET sign_count = ?, backup_state = ?, last_used_at = ? "+
		"WHERE credential_hash = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))",
		n, backupState, now.UTC(), credentialHash(credentialID), n, n).Exec(ctx)
	k, err := rowsAffected(res, err, "record the use of a passkey")
	return k == 1, err
}

// DeletePasskey: see usecase.PasskeyStore.
func (r *PasskeyRepository) DeletePasskey(ctx context.Context, userID, id string) (bool, error) {
	res, err := r.db.NewDelete().Model((*passkeyRow)(nil)).Where("user_id = ? AND id = ?", userID, id).Exec(ctx)
	n, err := rowsAffected(res, err, "delete a passkey of user %q", userID)
	return n > 0, err
}

// DeletePasskeys: see usecase.PasskeyStore.
func (r *PasskeyRepository) DeletePasskeys(ctx context.Context, userID string) (bool, error) {
	res, err := conn(ctx, r.db).NewDelete().Model((*passkeyRow)(nil)).Where("user_id = ?", userID).Exec(ctx)
	n, err := rowsAffected(res, err, "delete the passkeys of user %q", userID)
	return n > 0, err
}

// passkeysSchema: one row per credential, keyed by the hash of its id.
func passkeysSchema() []tableDef {
	return []tableDef{{
		name: "user_passkeys",
		columns: []column{col("credential_hash", typeHash), col("id", typeID), col("user_id", typeID),
			col("credential_id", typeBlob), col("public_key", typeBlob), col("sign_count", typeBigInt),
			nullCol("aaguid", typeBlob), col("transports", typeText), col("backup_eligible", typeBool),
			col("backup_state", typeBool), col("user_verified", typeBool), col("name", typeText),
			col("created_at", typeTime), nullCol("last_used_at", typeTime)},
		primaryKey:  []string{"credential_hash"},
		indexes:     []index{uniq("user_id", "id")},
		foreignKeys: []foreignKey{{"user_id", "users", "id"}},
	}}
}

func deviceAMR() (string, column) { return "device_authorizations", nullCol("amr", typeText) }

// passkeysMigration is migration 20260401000001 (issue 21): passkeys, and how the
// session that approved a device signed in.
func passkeysMigration() migrate.Migration {
	colUp, colDown := addColumn(deviceAMR)
	return migrate.Migration{Name: "20260401000001", Comment: "passkeys",
		Up:   sequence([]migrationFunc{createTables(passkeysSchema), colUp}),
		Down: sequence([]migrationFunc{colDown, dropTables(passkeysSchema)})}
}
