// Package cache keeps hot, rarely changing rows in memory for a bounded time, so the
// token endpoint does not read the client from the database on every request.
//
// The bound is the price: a client deleted, or its secret rotated, by the CLI or by
// another instance keeps working here for at most the TTL (GATEHOUSE_CLIENT_CACHE_TTL,
// default 5 s). Nothing else is cached; unknown clients always go to the database.
package cache
