// Package batchrepo holds the storage layer's fast paths, apart from the plain
// repositories of bunrepo that they wrap: the same ports, the same contract
// (repotest runs on both stacks), chosen in Wire (ProviderSet instead of
// bunrepo.PlainSet). What each piece buys, measured, is in BENCHMARKS.md.
//
//   - readBatcher: concurrent reads by key (refresh tokens, revocation checks, users)
//     share one query.
//   - GroupCommit: on SQLite, concurrent write transactions commit as one.
//   - pgPipeline: on PostgreSQL, short writes of concurrent callers go in one pgx batch
//     (one round trip, one commit).
//   - Tokens.UpdateRefreshToken on PostgreSQL: decided on a batched read, written by
//     one conditional pipelined statement, and decided again under the lock when the
//     token changed meanwhile.
//
// None of it decides anything of OAuth's: the rules stay in the use cases, which the
// repositories call back.
package batchrepo
