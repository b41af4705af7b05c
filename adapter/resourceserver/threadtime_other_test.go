//go:build !linux

package resourceserver

import "time"

var start = time.Now()

// threadTime falls back to wall time where thread CPU time is not at hand.
func threadTime() time.Duration { return time.Since(start) }
