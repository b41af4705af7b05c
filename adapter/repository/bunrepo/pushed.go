package bunrepo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// PushedRequestRepository keeps pushed authorization requests (RFC 9126).
type PushedRequestRepository struct {
	db *bun.DB
}

var _ usecase.PushedRequestStore = (*PushedRequestRepository)(nil)

// NewPushedRequestRepository returns a repository over db.
func NewPushedRequestRepository(db *bun.DB) *PushedRequestRepository {
	return &PushedRequestRepository{db: db}
}

type pushedRequestRow struct {
	bun.BaseModel `bun:"table:pushed_authorization_requests"`

	Hash      []byte    `bun:"hash,pk"`
	ClientID  string    `bun:"client_id"`
	Params    string    `bun:"params"`
	CreatedAt time.Time `bun:"created_at"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// pushedParams is the JSON of the params column; omitted keys are absent parameters.
type pushedParams struct {
	RedirectURI         string   `json:"redirect_uri,omitempty"`
	ResponseType        string   `json:"response_type,omitempty"`
	Scope               string   `json:"scope,omitempty"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Prompt              string   `json:"prompt,omitempty"`
	MaxAge              string   `json:"max_age,omitempty"`
	Claims              string   `json:"claims,omitempty"`
	Resource            []string `json:"resource,omitempty"`
}

// CreatePushedRequest inserts p; ErrDuplicate when its hash exists, ErrNotFound when
// its client does not.
func (r *PushedRequestRepository) CreatePushedRequest(ctx context.Context, p domain.PushedRequest) error {
	params, err := json.Marshal(pushedParams{
		RedirectURI: p.RedirectURI, ResponseType: p.ResponseType, Scope: p.Scope, State: p.State,
		Nonce: p.Nonce, CodeChallenge: p.CodeChallenge, CodeChallengeMethod: p.CodeChallengeMethod,
		Prompt: p.Prompt, MaxAge: p.MaxAge, Claims: p.Claims, Resource: p.Resource,
	})
	if err != nil {
		return fmt.Errorf("encode pushed authorization request: %w", err)
	}
	row := pushedRequestRow{Hash: p.Hash, ClientID: p.ClientID, Params: string(params),
		CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt}
	if _, err := conn(ctx, r.db).NewInsert().Model(&row).Exec(ctx); err != nil {
		return wrapErr(err, "insert pushed authorization request")
	}
	return nil
}

// PushedRequestByHash returns the request; ErrNotFound when none.
func (r *PushedRequestRepository) PushedRequestByHash(ctx context.Context, hash []byte) (domain.PushedRequest, error) {
	var row pushedRequestRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
		return domain.PushedRequest{}, wrapErr(err, "select pushed authorization request")
	}
	var p pushedParams
	if err := json.Unmarshal([]byte(row.Params), &p); err != nil {
		return domain.PushedRequest{}, fmt.Errorf("decode pushed authorization request: %w", err)
	}
	return domain.PushedRequest{
		Hash: row.Hash, ClientID: row.ClientID,
		RedirectURI: p.RedirectURI, ResponseType: p.ResponseType, Scope: p.Scope, State: p.State,
		Nonce: p.Nonce, CodeChallenge: p.CodeChallenge, CodeChallengeMethod: p.CodeChallengeMethod,
		Prompt: p.Prompt, MaxAge: p.MaxAge, Claims: p.Claims, Resource: p.Resource,
		CreatedAt: utc(row.CreatedAt), ExpiresAt: utc(row.ExpiresAt),
	}, nil
}

// ConsumePushedRequest deletes the request. The affected-row count of the one DELETE
// decides which of concurrent uses wins: only one sees a row.
func (r *PushedRequestRepository) ConsumePushedRequest(ctx context.Context, hash []byte) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*pushedRequestRow)(nil)).Where("hash = ?", hash).Exec(ctx)
	return mustAffect(res, err, "use pushed authorization request")
}
