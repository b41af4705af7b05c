package bunrepo

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/uptrace/bun"

	"gatehouse/domain"
	"gatehouse/usecase"
)

var (
	_ usecase.UserDirectory   = (*UserRepository)(nil)
	_ usecase.ClientDirectory = (*ClientRepository)(nil)
)

// likeEscape is the LIKE escape character of the admin lists' patterns: '!' means
// the same on SQLite, PostgreSQL and MariaDB (a backslash does not).
const likeEscape = "!"

// containsPattern is a LIKE pattern matching s anywhere, s's wildcards escaped.
func containsPattern(s string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, "%", likeEscape+"%", "_", likeEscape+"_")
	return "%" + r.Replace(s) + "%"
}

// after is the keyset condition of a page: past pos in (created_at, id) order.
func after(q *bun.SelectQuery, pos usecase.ListPosition) *bun.SelectQuery {
	if pos.ID == "" {
		return q
	}
	at := pos.CreatedAt.UTC()
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("created_at > ?", at).WhereOr("created_at = ? AND id > ?", at, pos.ID)
	})
}

// FindUsers is one page of the users that match f, oldest first (ties by id), read
// with a keyset query: a page costs the same however deep into the list.
func (r *UserRepository) FindUsers(ctx context.Context, f usecase.UserFilter) ([]domain.User, error) {
	var rows []userRow
	q := conn(ctx, r.db).NewSelect().Model(&rows)
	if needle := strings.ToLower(strings.TrimSpace(f.Q)); needle != "" {
		p := containsPattern(needle)
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("LOWER(username) LIKE ? ESCAPE '"+likeEscape+"'", p).
				WhereOr("LOWER(email) LIKE ? ESCAPE '"+likeEscape+"'", p).
				WhereOr("LOWER(name) LIKE ? ESCAPE '"+likeEscape+"'", p)
		})
	}
	if f.Group != "" {
		// group_names is a JSON array: the group's JSON string, quotes and all.
		g, err := json.Marshal(f.Group)
		if err != nil {
			return nil, wrapErr(err, "encode group")
		}
		q = q.Where("group_names LIKE ? ESCAPE '"+likeEscape+"'", containsPattern(string(g)))
	}
	switch {
	case f.Disabled == nil:
	case *f.Disabled:
		q = q.Where("disabled = ?", true)
	default: // false is stored as NULL (nullzero), and older rows hold NULL too
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("disabled IS NULL").WhereOr("disabled = ?", false)
		})
	}
	q = after(q, f.After).OrderExpr("created_at ASC, id ASC")
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrapErr(err, "find users")
	}
	users := make([]domain.User, len(rows))
	for i, row := range rows {
		u, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		users[i] = u
	}
	return users, nil
}

// FindClients is one page of the clients that match f, oldest first (ties by id).
func (r *ClientRepository) FindClients(ctx context.Context, f usecase.ClientFilter) ([]domain.Client, error) {
	var rows []clientRow
	q := conn(ctx, r.db).NewSelect().Model(&rows)
	if needle := strings.ToLower(strings.TrimSpace(f.Q)); needle != "" {
		p := containsPattern(needle)
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("LOWER(id) LIKE ? ESCAPE '"+likeEscape+"'", p).WhereOr("LOWER(name) LIKE ? ESCAPE '"+likeEscape+"'", p)
		})
	}
	q = after(q, f.After).OrderExpr("created_at ASC, id ASC")
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrapErr(err, "find clients")
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
