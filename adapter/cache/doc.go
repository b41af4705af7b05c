// Package cache keeps hot, rarely changing rows in memory for a bounded time, so the
// token endpoint does not read the client from the database on every request.
//
// A client updated or deleted by the CLI, by another instance or by this one is
// dropped at once: the change feed (bunrepo.ChangeFeed) calls ForgetAll within a
// second of the change. The TTL (GATEHOUSE_CLIENT_CACHE_TTL, default 5 s) is the
// backstop when the feed is down: a change is then seen here after at most that long.
// Nothing else is cached; unknown clients always go to the database.
package cache
