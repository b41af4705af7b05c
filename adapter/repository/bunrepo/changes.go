package bunrepo

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Instances keep some rows in memory (clients for a few seconds, signing keys until
// the next reload). So that a change made anywhere — by the CLI, by another instance,
// by this one — reaches every instance at once, each write of such rows records it in
// the changes table, in its own transaction: one counter per topic, bumped by
// markChanged. On PostgreSQL the bump also sends a notification (pg_notify, delivered
// when the transaction commits); on SQLite and MariaDB the ChangeFeed polls the
// counters. Either way a change that rolled back announces nothing.

// Topic names a kind of rows that instances keep in memory.
type Topic string

// The topics. Adding one is a line here and in Topics; its row in the changes table is
// made by its first bump, so it needs no migration.
const (
	// TopicClients: a client was updated or deleted (its secret, metadata).
	TopicClients Topic = "clients"
	// TopicKeys: a signing key was created, rotated, retired or revoked.
	TopicKeys Topic = "keys"
)

// Topics lists every topic, in the order the feed reports them after a reconnect.
func Topics() []Topic { return []Topic{TopicClients, TopicKeys} }

// changesChannel is the PostgreSQL NOTIFY channel; the payload is the topic.
const changesChannel = "gatehouse_changes"

// changesSchema is migration 20260310000001: one row per topic with a counter that
// every change of the topic increments.
func changesSchema() []tableDef {
	return []tableDef{{
		name:       "changes",
		columns:    []column{col("topic", typeID), col("seq", typeBigInt)},
		primaryKey: []string{"topic"},
	}}
}

// markChanged records that topic changed, in the transaction db belongs to (or as a
// statement of its own when db is the pool): one statement, an upsert of the topic's
// counter; on PostgreSQL it also notifies every listening instance when the
// transaction commits.
//
// Every repository method that updates or deletes rows of a topic calls it, last in
// its transaction (after the rows it announces, so that every transaction takes the
// counter's row lock last and no two wait for each other in opposite orders):
//
//	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
//		… the write …
//		return markChanged(ctx, tx, TopicClients)
//	})
//
// Inserting a client needs no call: no instance keeps a client it did not find, so a
// new one cannot be stale anywhere. Signing keys are always announced, new ones too:
// every instance must publish a new key at once.
func markChanged(ctx context.Context, db bun.IDB, topic Topic) error {
	var q string
	switch db.Dialect().Name() {
	case dialect.PG:
		q = "INSERT INTO changes (topic, seq) VALUES (?, 1) ON CONFLICT (topic) DO UPDATE SET seq = changes.seq + 1 " +
			"RETURNING pg_notify('" + changesChannel + "', changes.topic)"
	case dialect.MySQL:
		q = "INSERT INTO changes (topic, seq) VALUES (?, 1) ON DUPLICATE KEY UPDATE seq = seq + 1"
	default:
		q = "INSERT INTO changes (topic, seq) VALUES (?, 1) ON CONFLICT (topic) DO UPDATE SET seq = seq + 1"
	}
	if _, err := db.NewRaw(q, string(topic)).Exec(ctx); err != nil {
		return wrapErr(err, "record a change of %s", topic)
	}
	return nil
}

// ChangeCounters reads the counters of the changes table: how often each topic
// changed. A topic that never changed is absent (zero).
func ChangeCounters(ctx context.Context, db bun.IDB) (map[Topic]int64, error) {
	var rows []struct {
		Topic string `bun:"topic"`
		Seq   int64  `bun:"seq"`
	}
	if err := db.NewRaw("SELECT topic, seq FROM changes").Scan(ctx, &rows); err != nil {
		return nil, wrapErr(err, "read the change counters")
	}
	out := make(map[Topic]int64, len(rows))
	for _, r := range rows {
		out[Topic(r.Topic)] = r.Seq
	}
	return out, nil
}

// String is the topic's name, as in logs and metric labels.
func (t Topic) String() string { return string(t) }
