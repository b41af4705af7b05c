package observability

import (
	"io"
	"sync"
	"time"
)

// BufferedWriter collects log lines in memory and writes them to the underlying
// writer in batches: when the batch would pass its size bound, every flush interval,
// and on Flush and Close. With request logging on, a write system call per request
// otherwise costs a noticeable share of a token request; a batch costs one call for
// many lines. A line waits at most one interval.
//
// It is safe for concurrent use, and each Write reaches the underlying writer whole
// and in order (slog handlers write one record per call, so lines are never split).
// After Close, writes go straight through, so a late line is not lost either.
type BufferedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	size   int
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// NewBufferedWriter buffers up to size bytes for w and flushes them at least every
// interval (a background goroutine, ended by Close).
func NewBufferedWriter(w io.Writer, size int, interval time.Duration) *BufferedWriter {
	if size <= 0 {
		size = 64 << 10
	}
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	b := &BufferedWriter{w: w, buf: make([]byte, 0, size), size: size,
		stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop(interval)
	return b
}

func (b *BufferedWriter) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}

// Write appends p to the batch, flushing first when p would not fit. A p as large as
// the whole buffer, or any p after Close, is written directly.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.size {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if b.closed || len(p) >= b.size {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *BufferedWriter) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	// A failed write drops the batch rather than growing it without bound; the
	// error goes to whichever writer triggered the flush.
	b.buf = b.buf[:0]
	return err
}

// Close stops the background flushes and writes out what is buffered. Later writes
// are not buffered. Close may be called more than once.
func (b *BufferedWriter) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	err := b.flushLocked()
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	return err
}
