package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"gatehouse/bench"
)

// soakCmd is `loadgen soak`: every database in turn, a table per database, and an
// error (exit status 1) when any check failed.
func soakCmd(ctx context.Context, args []string) error {
	def := bench.DefaultSoakConfig()
	fs := flag.NewFlagSet("loadgen soak", flag.ContinueOnError)
	server := fs.String("server", "bin/gatehouse", "gatehouse binary to start")
	duration := fs.Duration("duration", def.Duration, "load time per database")
	concurrency := fs.Int("concurrency", def.Concurrency, "connections (one worker each, keep-alive)")
	databases := fs.String("databases", strings.Join(def.Databases, ","), "comma-separated databases to soak: sqlite, postgres")
	pg := fs.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL admin URL (loopback) on which a temporary database is created and dropped")
	timeout := fs.Duration("timeout", def.Timeout, "bound on each request")
	pwRate := fs.Float64("password-rate", def.PasswordRate, "password grants per second at most (argon2id at the default cost)")
	var serverEnv headerFlags
	fs.Var(&serverEnv, "env", "GATEHOUSE_NAME=value for the server (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *concurrency < 1 || *concurrency > 4096:
		return usageErr{"-concurrency must be 1 to 4096"}
	case *duration <= 0 || *duration > 24*time.Hour:
		return usageErr{"-duration must be in (0, 24h]"}
	case *timeout <= 0:
		return usageErr{"-timeout must be positive"}
	case *pwRate <= 0 || *pwRate > 1000:
		return usageErr{"-password-rate must be in (0, 1000]"}
	}
	for _, kv := range serverEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || !strings.HasPrefix(k, "GATEHOUSE_") {
			return usageErr{fmt.Sprintf("-env %q: want GATEHOUSE_NAME=value", kv)}
		}
	}
	cfg := bench.SoakConfig{ServerBin: *server, Duration: *duration, Concurrency: *concurrency, PostgresURL: *pg,
		Timeout: *timeout, PasswordRate: *pwRate, ServerEnv: serverEnv, Log: os.Stderr}
	for _, db := range strings.Split(*databases, ",") {
		db = strings.TrimSpace(db)
		if db != "sqlite" && db != "postgres" {
			return usageErr{fmt.Sprintf("-databases: unknown database %q (sqlite, postgres)", db)}
		}
		cfg.Databases = append(cfg.Databases, db)
	}
	results, err := bench.RunSoak(ctx, cfg)
	failed := 0
	for _, r := range results {
		fmt.Println()
		fmt.Print(r.Text())
		if !r.Passed() {
			failed++
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return errors.New(fmt.Sprintf("soak FAILED on %d of %d databases", failed, len(results)))
	}
	fmt.Printf("\nsoak passed on %d databases\n", len(results))
	return nil
}
