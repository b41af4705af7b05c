package bunrepo_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// feedProbe records the deliveries of a change feed, a channel per topic.
type feedProbe struct {
	ch map[bunrepo.Topic]chan struct{}
}

func newFeedProbe(feed *bunrepo.ChangeFeed) *feedProbe {
	p := &feedProbe{ch: map[bunrepo.Topic]chan struct{}{}}
	for _, topic := range bunrepo.Topics() {
		ch := make(chan struct{}, 64)
		p.ch[topic] = ch
		feed.Subscribe(topic, func(context.Context) error {
			ch <- struct{}{}
			return nil
		})
	}
	return p
}

// want waits up to within for a delivery of topic and returns how long it took.
func (p *feedProbe) want(t *testing.T, topic bunrepo.Topic, within time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-p.ch[topic]:
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("%s: no %s change delivered within %s", what, topic, within)
		return 0
	}
}

// quiet checks that nothing is delivered for d.
func (p *feedProbe) quiet(t *testing.T, d time.Duration, what string) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case <-p.ch[bunrepo.TopicClients]:
			t.Errorf("%s: a clients change was delivered, want none", what)
		case <-p.ch[bunrepo.TopicKeys]:
			t.Errorf("%s: a keys change was delivered, want none", what)
		case <-deadline:
			return
		}
	}
}

// TestChangeFeed: on every backend, a change of a client or a signing key made
// through another pool (the CLI, another instance) or through this instance's own
// pool reaches the feed within a second, for its topic only; a write that changes
// nothing announces nothing. On PostgreSQL, a listener whose connection is killed
// reconnects and then reports every topic (notifications may have been lost).
func TestChangeFeed(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := bunrepotest.Open(t, url) // the instance's pool
			other, closeOther, err := database.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(closeOther) // the CLI's pool, or another instance's
			reg := prometheus.NewRegistry()
			feed, err := bunrepo.NewChangeFeed(db, bunrepo.ChangeFeedConfig{DatabaseURL: url, PollInterval: 20 * time.Millisecond,
				RetryDelay: 50 * time.Millisecond, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			probe := newFeedProbe(feed)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); feed.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Error("the feed did not stop within 10 s of its context's end")
				}
			})
			// Connected: every topic counts as changed once.
			probe.want(t, bunrepo.TopicClients, 10*time.Second, "on start")
			probe.want(t, bunrepo.TopicKeys, 10*time.Second, "on start")
			probe.quiet(t, 200*time.Millisecond, "idle")

			ctx2 := t.Context()
			clients := bunrepo.NewClientRepository(other)
			c := domain.Client{ID: "c-feed", Name: "feed", SecretHash: make([]byte, 32), GrantTypes: []string{"client_credentials"},
				CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := clients.CreateClient(ctx2, c); err != nil {
				t.Fatal(err)
			}
			probe.quiet(t, 200*time.Millisecond, "a new client") // nothing can be stale
			if err := clients.UpdateClientSecret(ctx2, c.ID, make([]byte, 32), time.Now()); err != nil {
				t.Fatal(err)
			}
			took := probe.want(t, bunrepo.TopicClients, time.Second, "secret rotated through another pool")
			probe.quiet(t, 200*time.Millisecond, "after the secret rotation")
			t.Logf("%s: a client change through another pool delivered after %s", name, took.Round(time.Millisecond))

			// This instance's own pool (on SQLite another connection than the feed's).
			if err := bunrepo.NewClientRepository(db).DeleteClient(ctx2, c.ID); err != nil {
				t.Fatal(err)
			}
			probe.want(t, bunrepo.TopicClients, time.Second, "client deleted through the instance's own pool")
			if err := clients.DeleteClient(ctx2, c.ID); err == nil {
				t.Fatal("deleting the client twice succeeded")
			}
			probe.quiet(t, 200*time.Millisecond, "a delete that found nothing")

			keys := bunrepo.NewKeyRepository(other)
			k := domain.SigningKey{ID: "kid-feed", Alg: "Tfeed", PrivateKey: []byte("sealed"), PublicKey: []byte("pub"), CreatedAt: time.Now()}
			if err := keys.CreateKey(ctx2, k); err != nil {
				t.Fatal(err)
			}
			probe.want(t, bunrepo.TopicKeys, time.Second, "key created")
			now := time.Now()
			repl := domain.SigningKey{ID: "kid-feed-2", Alg: "Tfeed", PrivateKey: []byte("sealed"), PublicKey: []byte("pub"), CreatedAt: now}
			if _, err := keys.RevokeKey(ctx2, usecase.KeyRevocation{KID: k.ID, Now: now, Replacement: &repl, OldExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			probe.want(t, bunrepo.TopicKeys, time.Second, "key revoked")
			probe.quiet(t, 200*time.Millisecond, "after the revocation")

			if got := metricValue(t, reg, "gatehouse_change_feed_up", "", ""); got != 1 {
				t.Errorf("gatehouse_change_feed_up = %v, want 1", got)
			}
			if got := metricValue(t, reg, "gatehouse_change_notifications_total", "topic", "clients"); got != 3 {
				t.Errorf(`gatehouse_change_notifications_total{topic="clients"} = %v, want 3 (start, rotation, deletion)`, got)
			}

			if name != "postgres" {
				return
			}
			// Kill the listener's connection: it comes back and reports everything.
			var pids []int
			if err := other.NewRaw("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'").
				Scan(ctx2, &pids); err != nil || len(pids) != 1 {
				t.Fatalf("the listener's backend: %v %v", pids, err)
			}
			if _, err := other.NewRaw("SELECT pg_terminate_backend(?)", pids[0]).Exec(ctx2); err != nil {
				t.Fatal(err)
			}
			probe.want(t, bunrepo.TopicClients, 5*time.Second, "after the listener's connection was killed")
			probe.want(t, bunrepo.TopicKeys, 5*time.Second, "after the listener's connection was killed")
			if err := clients.CreateClient(ctx2, c); err != nil {
				t.Fatal(err)
			}
			if err := clients.DeleteClient(ctx2, c.ID); err != nil {
				t.Fatal(err)
			}
			probe.want(t, bunrepo.TopicClients, time.Second, "a change after the reconnection")
		})
	}
}

// metricValue reads a gauge or counter from reg: name, with label=value when label
// is not empty. It fails when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == label && l.GetValue() == value
			}
			if match {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, label, value)
	return 0
}
