// Package bench is Gatehouse's load-test harness: a bounded, loopback-only HTTP load
// generator (fixed connections, fixed duration, keep-alive) with an HDR-style latency
// histogram and peak-RSS sampling of the server process, and a scenario runner that
// starts the real server binary on a fresh database, sets it up through the CLI, and
// measures each endpoint against a bare Echo baseline served in the same run.
//
// Absolute numbers on a shared two-core machine are noise; the ratio of an endpoint's
// throughput to the baseline measured minutes apart on the same machine is what the
// targets are stated in (see BENCHMARKS.md). cmd/loadgen is the command line.
package bench
