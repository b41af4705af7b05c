// Package repotest is the contract every storage implementation of the use-case ports
// must pass, on every database (the idea of Dex's storage conformance tests): one
// subtest per port method and per error rule, plus concurrent tests of the single-use
// guarantees (a code redeemed once, a refresh token rotated once) under -race.
//
// RunAll runs it on the Bun repositories over a migrated database; Run takes any set
// of stores. Every subtest makes its own rows with random ids, so the suite can share
// one database and leaves it usable.
package repotest
