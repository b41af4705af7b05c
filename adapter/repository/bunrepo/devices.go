package bunrepo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// DeviceRepository stores device authorizations (RFC 8628) by the hash of the device
// code, findable by the hash of the user code. Every change of state is one
// conditional UPDATE whose WHERE clause holds the rule, so the database, not a read
// followed by a write in Go, decides which of concurrent callers wins.
type DeviceRepository struct {
	db *bun.DB
}

var _ usecase.DeviceStore = (*DeviceRepository)(nil)

// NewDeviceRepository returns a repository over db.
func NewDeviceRepository(db *bun.DB) *DeviceRepository { return &DeviceRepository{db: db} }

type deviceRow struct {
	bun.BaseModel `bun:"table:device_authorizations"`

	DeviceCodeHash  []byte    `bun:"device_code_hash,pk"`
	UserCodeHash    []byte    `bun:"user_code_hash"`
	ClientID        string    `bun:"client_id"`
	Scope           string    `bun:"scope"`
	Audience        string    `bun:"audience"`
	IntervalSeconds int64     `bun:"interval_seconds"`
	LastPolledAt    time.Time `bun:"last_polled_at,nullzero"`
	Status          string    `bun:"status"`
	UserID          string    `bun:"user_id,nullzero"`
	AuthTime        time.Time `bun:"auth_time,nullzero"`
	SessionID       string    `bun:"session_id,nullzero"`
	// AMR came with migration 20260401000001: space-separated; NULL when none.
	AMR        string     `bun:"amr,nullzero"`
	FamilyID   string     `bun:"family_id"`
	CreatedAt  time.Time  `bun:"created_at"`
	ExpiresAt  time.Time  `bun:"expires_at"`
	ConsumedAt *time.Time `bun:"consumed_at"`
}

func deviceToRow(d domain.DeviceAuthorization) deviceRow {
	return deviceRow{
		DeviceCodeHash: d.DeviceCodeHash, UserCodeHash: d.UserCodeHash, ClientID: d.ClientID,
		Scope: encodeList(d.Scope), Audience: encodeList(d.Audience),
		IntervalSeconds: int64(d.Interval / time.Second), LastPolledAt: d.LastPolledAt,
		Status: string(d.Status), UserID: d.UserID, AuthTime: d.AuthTime, SessionID: d.SessionID, AMR: strings.Join(d.AMR, " "),
		FamilyID: d.FamilyID, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt, ConsumedAt: d.ConsumedAt,
	}
}

func (r deviceRow) toDomain() (domain.DeviceAuthorization, error) {
	d := domain.DeviceAuthorization{
		DeviceCodeHash: r.DeviceCodeHash, UserCodeHash: r.UserCodeHash, ClientID: r.ClientID,
		Interval: time.Duration(r.IntervalSeconds) * time.Second, LastPolledAt: utc(r.LastPolledAt),
		Status: domain.DeviceStatus(r.Status), UserID: r.UserID, AuthTime: utc(r.AuthTime),
		SessionID: r.SessionID, AMR: strings.Fields(r.AMR), FamilyID: r.FamilyID,
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt), ConsumedAt: utcPtr(r.ConsumedAt),
	}
	var err error
	if d.Scope, err = decodeList(r.Scope); err != nil {
		return domain.DeviceAuthorization{}, fmt.Errorf("device authorization scope: %w", err)
	}
	if d.Audience, err = decodeList(r.Audience); err != nil {
		return domain.DeviceAuthorization{}, fmt.Errorf("device authorization audience: %w", err)
	}
	return d, nil
}

// CreateDeviceAuthorization inserts d; ErrDuplicate when its device or user code hash
// exists, ErrNotFound when its client does not.
func (r *DeviceRepository) CreateDeviceAuthorization(ctx context.Context, d domain.DeviceAuthorization) error {
	row := deviceToRow(d)
	if _, err := insert(ctx, conn(ctx, r.db), &row); err != nil {
		return wrapErr(err, "insert device authorization")
	}
	return nil
}

func (r *DeviceRepository) selectOne(ctx context.Context, column string, hash []byte) (domain.DeviceAuthorization, error) {
	var row deviceRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("? = ?", bun.Ident(column), hash).Scan(ctx); err != nil {
		return domain.DeviceAuthorization{}, wrapErr(err, "select device authorization by %s", column)
	}
	return row.toDomain()
}

// DeviceAuthorizationByUserCode finds an authorization by its user code hash.
func (r *DeviceRepository) DeviceAuthorizationByUserCode(ctx context.Context, userCodeHash []byte) (domain.DeviceAuthorization, error) {
	return r.selectOne(ctx, "user_code_hash", userCodeHash)
}

// DeviceAuthorizationByDeviceCode finds an authorization by its device code hash.
func (r *DeviceRepository) DeviceAuthorizationByDeviceCode(ctx context.Context, deviceCodeHash []byte) (domain.DeviceAuthorization, error) {
	return r.selectOne(ctx, "device_code_hash", deviceCodeHash)
}

// decide moves a pending, unexpired authorization to status with one conditional
// update; when no row matched it tells a lost race (ErrAlreadyUsed) from a missing row.
func (r *DeviceRepository) decide(ctx context.Context, hash []byte, status domain.DeviceStatus, set string, args []any, now time.Time) error {
	q := conn(ctx, r.db).NewUpdate().Model((*deviceRow)(nil)).
		Set("status = ?", string(status)).
		Where("device_code_hash = ?", hash).
		Where("status = ?", string(domain.DevicePending)).
		Where("expires_at > ?", now)
	if set != "" {
		q = q.Set(set, args...)
	}
	res, err := q.Exec(ctx)
	n, err := rowsAffected(res, err, "%s device authorization", status)
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	if _, err := r.DeviceAuthorizationByDeviceCode(ctx, hash); err != nil {
		return err
	}
	return fmt.Errorf("%s device authorization: %w", status, domain.ErrAlreadyUsed)
}

// ApproveDeviceAuthorization records the approval while the authorization is pending
// and unexpired.
func (r *DeviceRepository) ApproveDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, a usecase.DeviceApproval, now time.Time) error {
	authTime := any(nil)
	if !a.AuthTime.IsZero() {
		authTime = a.AuthTime
	}
	sessionID := any(nil)
	if a.SessionID != "" {
		sessionID = a.SessionID
	}
	amr := any(nil)
	if len(a.AMR) > 0 {
		amr = strings.Join(a.AMR, " ")
	}
	return r.decide(ctx, deviceCodeHash, domain.DeviceApproved,
		"user_id = ?, auth_time = ?, session_id = ?, amr = ?", []any{a.UserID, authTime, sessionID, amr}, now)
}

// DenyDeviceAuthorization records the refusal while the authorization is pending and
// unexpired.
func (r *DeviceRepository) DenyDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, now time.Time) error {
	return r.decide(ctx, deviceCodeHash, domain.DeviceDenied, "", nil, now)
}

// PollDeviceAuthorization records a poll. While the authorization is pending, a poll
// on time is let through by an UPDATE that only matches when the previous poll is at
// least the interval old: of two polls racing inside one interval only the first
// write matches, since it moves last_polled_at past the second one's bound. Any other
// poll lengthens the interval in the same statement that records it
// (interval_seconds + step), so concurrent early polls each add their step.
func (r *DeviceRepository) PollDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, now time.Time) (domain.DeviceAuthorization, bool, error) {
	d, err := r.DeviceAuthorizationByDeviceCode(ctx, deviceCodeHash)
	if err != nil {
		return domain.DeviceAuthorization{}, false, err
	}
	if d.Status != domain.DevicePending {
		// Decided: the device gets its answer however fast it polls; keep the time only.
		res, err := conn(ctx, r.db).NewUpdate().Model((*deviceRow)(nil)).
			Set("last_polled_at = ?", now).
			Where("device_code_hash = ?", deviceCodeHash).
			Exec(ctx)
		if _, err := rowsAffected(res, err, "record device poll"); err != nil {
			return domain.DeviceAuthorization{}, false, err
		}
		d.LastPolledAt = now.UTC().Truncate(time.Microsecond) // as stored
		return d, false, nil
	}
	if !d.PollTooSoon(now) {
		res, err := conn(ctx, r.db).NewUpdate().Model((*deviceRow)(nil)).
			Set("last_polled_at = ?", now).
			Where("device_code_hash = ?", deviceCodeHash).
			Where("status = ?", string(domain.DevicePending)).
			WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
				return q.Where("last_polled_at IS NULL").WhereOr("last_polled_at <= ?", now.Add(-d.Interval))
			}).
			Exec(ctx)
		n, err := rowsAffected(res, err, "record device poll")
		if err != nil {
			return domain.DeviceAuthorization{}, false, err
		}
		if n == 1 {
			d.LastPolledAt = now.UTC().Truncate(time.Microsecond) // as stored
			return d, false, nil
		}
	}
	step := int64(domain.DeviceSlowDownStep / time.Second)
	res, err := conn(ctx, r.db).NewUpdate().Model((*deviceRow)(nil)).
		Set("last_polled_at = ?", now).
		Set("interval_seconds = interval_seconds + ?", step).
		Where("device_code_hash = ?", deviceCodeHash).
		Where("status = ?", string(domain.DevicePending)).
		Exec(ctx)
	n, err := rowsAffected(res, err, "slow down device polling")
	if err != nil {
		return domain.DeviceAuthorization{}, false, err
	}
	if d, err = r.DeviceAuthorizationByDeviceCode(ctx, deviceCodeHash); err != nil {
		return domain.DeviceAuthorization{}, false, err
	}
	// n == 0: the user decided since our read; the caller sees the decision instead.
	return d, n == 1, nil
}

// ConsumeDeviceAuthorization marks an approved, unexpired, unconsumed authorization
// consumed: one conditional UPDATE, so exactly one of concurrent pollers gets nil.
func (r *DeviceRepository) ConsumeDeviceAuthorization(ctx context.Context, deviceCodeHash []byte, now time.Time) error {
	res, err := conn(ctx, r.db).NewUpdate().Model((*deviceRow)(nil)).
		Set("consumed_at = ?", now).
		Where("device_code_hash = ?", deviceCodeHash).
		Where("status = ?", string(domain.DeviceApproved)).
		Where("consumed_at IS NULL").
		Where("expires_at > ?", now).
		Exec(ctx)
	n, err := rowsAffected(res, err, "consume device authorization")
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	if _, err := r.DeviceAuthorizationByDeviceCode(ctx, deviceCodeHash); err != nil {
		return err
	}
	return fmt.Errorf("consume device authorization: %w", domain.ErrAlreadyUsed)
}
