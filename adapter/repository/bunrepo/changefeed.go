package bunrepo

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/infrastructure/database"
)

// ChangeFeed tells this instance, within a second, that clients or signing keys
// changed anywhere on its database (markChanged recorded it), so that it drops what
// it keeps in memory. How it learns depends on the database:
//
//   - PostgreSQL: LISTEN on a connection of its own; every change notifies at commit.
//     After a (re)connection every topic counts as changed, since notifications sent
//     while nobody listened are lost.
//   - SQLite: PRAGMA data_version, every PollInterval, on a connection of its own: it
//     moves when another connection (another process, or this server's own pool)
//     committed anything; only then are the counters read, to see which topics moved.
//   - MariaDB: the counters, every PollInterval, on a connection of its own.
//
// The subscribers of a topic run on a goroutine of that topic, one delivery at a
// time; changes that arrive meanwhile are folded into one more delivery. Nothing
// here runs on a request's path: a feed that is down only leaves the caches to
// their TTLs (GATEHOUSE_CLIENT_CACHE_TTL, GATEHOUSE_KEY_REFRESH_INTERVAL).
type ChangeFeed struct {
	db   *bun.DB
	cfg  ChangeFeedConfig
	log  *slog.Logger
	subs map[Topic][]func(context.Context) error
	wake map[Topic]chan struct{}

	notifications *prometheus.CounterVec
	up            prometheus.Gauge
}

// ChangeFeedConfig configures a ChangeFeed; zero fields take the defaults.
type ChangeFeedConfig struct {
	// DatabaseURL is the URL db was opened from: the feed opens a connection of its
	// own to it, outside the pool.
	DatabaseURL string
	// PollInterval: how often SQLite's data_version or MariaDB's counters are read.
	PollInterval time.Duration
	// RetryDelay: the first wait after a failure to connect or to poll; it doubles
	// up to 30 s while failures go on.
	RetryDelay time.Duration
	// DeliveryTimeout bounds one run of a subscriber (a key reload, say).
	DeliveryTimeout time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Registerer takes the feed's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Defaults of ChangeFeedConfig.
const (
	DefaultChangePollInterval = 200 * time.Millisecond
	defaultChangeRetryDelay   = time.Second
	maxChangeRetryDelay       = 30 * time.Second
	defaultDeliveryTimeout    = 5 * time.Second
)

// NewChangeFeed returns a feed for db; Run starts it.
func NewChangeFeed(db *bun.DB, cfg ChangeFeedConfig) (*ChangeFeed, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultChangePollInterval
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = defaultChangeRetryDelay
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = defaultDeliveryTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	f := &ChangeFeed{db: db, cfg: cfg, log: log, subs: map[Topic][]func(context.Context) error{}, wake: map[Topic]chan struct{}{},
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_change_notifications_total",
			Help: "Changes of clients or signing keys this instance acted on, by topic (after a reconnection of the feed, every topic counts once).",
		}, []string{"topic"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_change_feed_up",
			Help: "1 while the change feed listens (PostgreSQL) or polls (SQLite, MariaDB) successfully, else 0.",
		}),
	}
	for _, t := range Topics() {
		f.wake[t] = make(chan struct{}, 1)
		f.notifications.WithLabelValues(t.String()) // shown as 0 before the first change
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(f.notifications); err != nil {
			return nil, fmt.Errorf("register change feed metrics: %w", err)
		}
		if err := cfg.Registerer.Register(f.up); err != nil {
			return nil, fmt.Errorf("register change feed metrics: %w", err)
		}
	}
	return f, nil
}

// Subscribe makes fn run whenever topic changed. Call it before Run. An error fn
// returns is logged; the feed goes on.
func (f *ChangeFeed) Subscribe(topic Topic, fn func(ctx context.Context) error) {
	f.subs[topic] = append(f.subs[topic], fn)
}

// Run follows the changes until ctx ends, then returns once its goroutines and
// connection are gone. Failures are logged and retried; Run never fails.
func (f *ChangeFeed) Run(ctx context.Context) {
	if database.InMemory(f.cfg.DatabaseURL) {
		return // one connection of one process: nothing else can change it
	}
	var wg sync.WaitGroup
	for _, t := range Topics() {
		wg.Go(func() { f.deliver(ctx, t) })
	}
	if f.db.Dialect().Name() == dialect.PG {
		f.listen(ctx)
	} else {
		f.poll(ctx)
	}
	f.up.Set(0)
	wg.Wait()
}

// fire records that topic changed and wakes its delivery.
func (f *ChangeFeed) fire(t Topic) {
	f.notifications.WithLabelValues(t.String()).Inc()
	select {
	case f.wake[t] <- struct{}{}:
	default: // a delivery is already due; it will see this change too
	}
}

func (f *ChangeFeed) fireAll() {
	for _, t := range Topics() {
		f.fire(t)
	}
}

// deliver runs topic t's subscribers each time t fires, until ctx ends.
func (f *ChangeFeed) deliver(ctx context.Context, t Topic) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake[t]:
		}
		for _, fn := range f.subs[t] {
			dctx, cancel := context.WithTimeout(ctx, f.cfg.DeliveryTimeout)
			err := fn(dctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				f.log.Warn("change feed: applying a change failed", "topic", t.String(), "err", err)
			}
		}
	}
}

// listen follows PostgreSQL's notifications.
func (f *ChangeFeed) listen(ctx context.Context) {
	if err := database.ListenPostgres(ctx, f.cfg.DatabaseURL, changesChannel, f.cfg.RetryDelay, feedListener{f}); err != nil {
		f.log.Warn("change feed: cannot listen", "err", err)
	}
}

type feedListener struct{ f *ChangeFeed }

func (l feedListener) Connected() {
	l.f.log.Info("change feed connected", "mode", "listen", "channel", changesChannel)
	l.f.up.Set(1)
	l.f.fireAll() // notifications sent before LISTEN took hold are lost
}

func (l feedListener) Notified(payload string) {
	t := Topic(payload)
	if !slices.Contains(Topics(), t) {
		// A newer instance announcing a topic this one does not keep.
		l.f.log.Debug("change feed: unknown topic ignored", "topic", payload)
		return
	}
	l.f.fire(t)
}

func (l feedListener) Lost(err error, retry time.Duration) {
	l.f.up.Set(0)
	l.f.log.Warn("change feed: connection failed; caches fall back to their TTLs until it is back",
		"err", err, "retry_in", retry.String())
}

// poll follows the change counters (SQLite, MariaDB), reconnecting after failures.
func (f *ChangeFeed) poll(ctx context.Context) {
	delay := f.cfg.RetryDelay
	for {
		worked, err := f.pollOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if worked {
			delay = f.cfg.RetryDelay
		}
		f.up.Set(0)
		f.log.Warn("change feed: polling failed; caches fall back to their TTLs until it is back",
			"err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxChangeRetryDelay)
	}
}

// pollOnce opens a connection of its own and polls on it until a failure or the end
// of ctx; worked reports whether a poll succeeded.
func (f *ChangeFeed) pollOnce(ctx context.Context) (worked bool, err error) {
	side, closeSide, err := database.OpenSide(ctx, f.cfg.DatabaseURL)
	if err != nil {
		return false, err
	}
	defer closeSide()
	sqlite := side.Dialect().Name() == dialect.SQLite
	tick := time.NewTicker(f.cfg.PollInterval)
	defer tick.Stop()
	var version int64 = -1
	var last map[Topic]int64 // nil until the first read: then every topic counts as changed
	for {
		changed := true
		if sqlite {
			// data_version moves whenever another connection committed, whatever it
			// wrote; it costs no read of the database file.
			var v int64
			if err := side.NewRaw("PRAGMA data_version").Scan(ctx, &v); err != nil {
				return worked, fmt.Errorf("read data_version: %w", err)
			}
			changed, version = v != version, v
		}
		if changed {
			counts, err := ChangeCounters(ctx, side)
			if err != nil {
				return worked, err
			}
			if last == nil {
				f.log.Info("change feed connected", "mode", "poll", "interval", f.cfg.PollInterval.String())
				f.up.Set(1)
				f.fireAll()
			} else {
				for _, t := range Topics() {
					if counts[t] != last[t] {
						f.fire(t)
					}
				}
			}
			last, worked = counts, true
		}
		select {
		case <-ctx.Done():
			return worked, nil
		case <-tick.C:
		}
	}
}
