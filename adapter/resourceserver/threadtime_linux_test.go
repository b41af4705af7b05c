package resourceserver

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadTime is the CPU time of the calling OS thread (precise to the ns on Linux).
func threadTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ts.Nano())
}
