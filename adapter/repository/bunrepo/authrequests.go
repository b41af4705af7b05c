package bunrepo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// AuthRequestRepository keeps authorization requests between the pages.
type AuthRequestRepository struct {
	db *bun.DB
}

var _ usecase.AuthRequestStore = (*AuthRequestRepository)(nil)

// NewAuthRequestRepository returns a repository over db.
func NewAuthRequestRepository(db *bun.DB) *AuthRequestRepository {
	return &AuthRequestRepository{db: db}
}

type authRequestRow struct {
	bun.BaseModel `bun:"table:authorization_requests"`

	ID              string    `bun:"id,pk"`
	ClientID        string    `bun:"client_id"`
	RedirectURI     string    `bun:"redirect_uri"`
	RedirectURISent bool      `bun:"redirect_uri_sent"`
	Scope           string    `bun:"scope"`
	Audience        string    `bun:"audience"`
	State           string    `bun:"state"`
	Nonce           string    `bun:"nonce"`
	CodeChallenge   string    `bun:"code_challenge"`
	Prompt          string    `bun:"prompt"`
	MaxAge          string    `bun:"max_age,nullzero"`
	BrowserHash     []byte    `bun:"browser_hash"`
	UserID          string    `bun:"user_id,nullzero"`
	AuthTime        time.Time `bun:"auth_time,nullzero"`
	CreatedAt       time.Time `bun:"created_at"`
	ExpiresAt       time.Time `bun:"expires_at"`
	// RequestedClaims came with migration 20260317000001: NULL when none.
	RequestedClaims string `bun:"requested_claims,nullzero"`
}

func authRequestToRow(r domain.AuthRequest) authRequestRow {
	row := authRequestRow{
		ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, RedirectURISent: r.RedirectURISent,
		Scope: encodeList(r.Scope), Audience: encodeList(r.Audience),
		State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, Prompt: encodeList(r.Prompt),
		BrowserHash: r.BrowserHash, UserID: r.UserID, AuthTime: r.AuthTime,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RequestedClaims: r.Claims.Encode(),
	}
	if r.MaxAge != nil {
		row.MaxAge = strconv.FormatInt(int64(*r.MaxAge/time.Second), 10)
	}
	return row
}

func (r authRequestRow) toDomain() (domain.AuthRequest, error) {
	a := domain.AuthRequest{
		ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, RedirectURISent: r.RedirectURISent,
		State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge,
		BrowserHash: r.BrowserHash, UserID: r.UserID, AuthTime: utc(r.AuthTime),
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt),
	}
	var err error
	if a.Scope, err = decodeList(r.Scope); err != nil {
		return domain.AuthRequest{}, fmt.Errorf("authorization request scope: %w", err)
	}
	if a.Audience, err = decodeList(r.Audience); err != nil {
		return domain.AuthRequest{}, fmt.Errorf("authorization request audience: %w", err)
	}
	if a.Prompt, err = decodeList(r.Prompt); err != nil {
		return domain.AuthRequest{}, fmt.Errorf("authorization request prompt: %w", err)
	}
	if a.Claims, err = decodeClaims(r.RequestedClaims); err != nil {
		return domain.AuthRequest{}, fmt.Errorf("authorization request claims: %w", err)
	}
	if r.MaxAge != "" {
		n, err := strconv.ParseInt(r.MaxAge, 10, 64)
		if err != nil {
			return domain.AuthRequest{}, fmt.Errorf("authorization request max_age %q: %w", r.MaxAge, err)
		}
		d := time.Duration(n) * time.Second
		a.MaxAge = &d
	}
	return a, nil
}

// CreateAuthRequest inserts r; ErrDuplicate when its id exists, ErrNotFound when its
// client (or user) does not.
func (r *AuthRequestRepository) CreateAuthRequest(ctx context.Context, a domain.AuthRequest) error {
	row := authRequestToRow(a)
	if _, err := conn(ctx, r.db).NewInsert().Model(&row).Exec(ctx); err != nil {
		return wrapErr(err, "insert authorization request")
	}
	return nil
}

// AuthRequestByID returns the request; ErrNotFound when none.
func (r *AuthRequestRepository) AuthRequestByID(ctx context.Context, id string) (domain.AuthRequest, error) {
	var row authRequestRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return domain.AuthRequest{}, wrapErr(err, "select authorization request")
	}
	return row.toDomain()
}

// UpdateAuthRequest records the logged-in user and auth time; ErrNotFound when the
// request is gone (completed meanwhile).
func (r *AuthRequestRepository) UpdateAuthRequest(ctx context.Context, a domain.AuthRequest) error {
	row := authRequestToRow(a)
	res, err := conn(ctx, r.db).NewUpdate().Model(&row).Column("user_id", "auth_time").WherePK().Exec(ctx)
	return mustAffect(res, err, "update authorization request")
}

// DeleteAuthRequest deletes the request. The affected-row count of the one DELETE
// decides which of concurrent completions wins: only one sees a row.
func (r *AuthRequestRepository) DeleteAuthRequest(ctx context.Context, id string) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*authRequestRow)(nil)).Where("id = ?", id).Exec(ctx)
	return mustAffect(res, err, "delete authorization request")
}
