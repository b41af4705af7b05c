package observability

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is an underlying writer that records every write it is given.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.writes
}

// Many goroutines log through a real slog logger; after Close every line is there,
// whole, in far fewer writes than lines.
func TestBufferedWriter_ConcurrentLinesAllArriveWhole(t *testing.T) {
	s := &sink{}
	bw := NewBufferedWriter(s, 4<<10, time.Hour)
	log := NewLogger(bw, "text", "info")
	const goroutines, each = 16, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				log.Info("request", "g", g, "i", i, "pad", strings.Repeat("x", i%50))
			}
		}()
	}
	wg.Wait()
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	out, writes := s.snapshot()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("%d lines arrived, want %d", len(lines), goroutines*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") || !strings.Contains(l, "msg=request") {
			t.Fatalf("line torn or mixed: %q", l)
		}
		i := strings.Index(l, " g=")
		seen[l[i:]] = true
	}
	for g := range goroutines {
		for i := range each {
			key := fmt.Sprintf(" g=%d i=%d pad=%s", g, i, strings.Repeat("x", i%50))
			if i%50 == 0 {
				key = fmt.Sprintf(" g=%d i=%d pad=\"\"", g, i)
			}
			if !seen[key] {
				t.Fatalf("line %q missing", key)
			}
		}
	}
	if writes >= len(lines)/10 {
		t.Fatalf("%d lines took %d writes: not batched", len(lines), writes)
	}
}

// A lone line reaches the writer without Flush or Close, by the periodic flush.
func TestBufferedWriter_FlushesByItself(t *testing.T) {
	s := &sink{}
	bw := NewBufferedWriter(s, 64<<10, 10*time.Millisecond)
	defer bw.Close()
	if _, err := bw.Write([]byte("one line\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out, _ := s.snapshot(); out == "one line\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was never flushed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Passing the size bound writes the batch out at once, in order; a write as large as
// the buffer goes straight through; Flush empties the buffer.
func TestBufferedWriter_SizeBoundAndOrder(t *testing.T) {
	s := &sink{}
	bw := NewBufferedWriter(s, 16, time.Hour)
	defer bw.Close()
	for _, l := range []string{"aaaaa\n", "bbbbb\n"} {
		if _, err := bw.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if out, _ := s.snapshot(); out != "" {
		t.Fatalf("wrote %q before the bound", out)
	}
	bw.Write([]byte("ccccc\n")) // 18 bytes would not fit: the first two go out
	if out, _ := s.snapshot(); out != "aaaaa\nbbbbb\n" {
		t.Fatalf("after the bound: %q", out)
	}
	bw.Write([]byte("a line longer than the buffer\n"))
	if out, _ := s.snapshot(); out != "aaaaa\nbbbbb\nccccc\na line longer than the buffer\n" {
		t.Fatalf("after a large line: %q", out)
	}
	bw.Write([]byte("d\n"))
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.snapshot(); !strings.HasSuffix(out, "buffer\nd\n") {
		t.Fatalf("after Flush: %q", out)
	}
}

// Close writes out the rest; a line written after Close is not lost; Close twice is fine.
func TestBufferedWriter_CloseFlushesAndWritesThrough(t *testing.T) {
	s := &sink{}
	bw := NewBufferedWriter(s, 1<<10, time.Hour)
	bw.Write([]byte("before\n"))
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.snapshot(); out != "before\n" {
		t.Fatalf("Close left %q", out)
	}
	bw.Write([]byte("after\n"))
	if out, _ := s.snapshot(); out != "before\nafter\n" {
		t.Fatalf("a write after Close: %q", out)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
}

// Through NewLogger, an info line waits for the batch but a warning is written at
// once, with the lines before it; so is one logged through a derived logger.
func TestNewLogger_BufferedWarningsFlushAtOnce(t *testing.T) {
	s := &sink{}
	bw := NewBufferedWriter(s, 64<<10, time.Hour)
	defer bw.Close()
	log := NewLogger(bw, "json", "info")
	log.Info("routine")
	if out, _ := s.snapshot(); out != "" {
		t.Fatalf("an info line was written at once: %q", out)
	}
	log.With("component", "x").WithGroup("g").Warn("problem", "k", "v")
	out, _ := s.snapshot()
	if !strings.Contains(out, `"msg":"routine"`) || !strings.Contains(out, `"msg":"problem"`) ||
		strings.Index(out, "routine") > strings.Index(out, "problem") {
		t.Fatalf("after a warning: %q", out)
	}
}
