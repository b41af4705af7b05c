package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// rssSampler follows a process's resident set size while a run measures.
//
// Linux keeps the peak itself (VmHWM in /proc/PID/status), but for the process's whole
// life, and the server serves every scenario. Writing "5" to /proc/PID/clear_refs
// resets that peak (Linux 4.0+, needs the right to write there: the same user), so
// each scenario's peak is its own. Where the reset is refused, the peak is the
// largest VmRSS sampled every 50 ms.
type rssSampler struct {
	pid     int
	reset   bool
	mu      sync.Mutex
	sampled int64
	done    chan struct{}
	wg      sync.WaitGroup
}

const rssInterval = 50 * time.Millisecond

func startRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	s.reset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(rssInterval)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	st, err := ReadProcStatus(s.pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.sampled = max(s.sampled, st.VmRSS)
	s.mu.Unlock()
}

// stop ends sampling and returns the peak in bytes and how it was measured.
func (s *rssSampler) stop() (int64, string) {
	close(s.done)
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	peak := s.sampled
	s.mu.Unlock()
	if s.reset {
		if st, err := ReadProcStatus(s.pid); err == nil && st.VmHWM > 0 {
			return max(peak, st.VmHWM), "VmHWM"
		}
	}
	if peak == 0 {
		return 0, ""
	}
	return peak, "VmRSS"
}

// ProcStatus holds the memory lines of /proc/PID/status, in bytes.
type ProcStatus struct {
	VmRSS int64
	VmHWM int64
}

// ReadProcStatus reads /proc/PID/status.
func ReadProcStatus(pid int) (ProcStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStatus{}, err
	}
	return parseProcStatus(b), nil
}

func parseProcStatus(b []byte) ProcStatus {
	var st ProcStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &st.VmRSS
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &st.VmHWM
		default:
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		if len(f) >= 3 && string(f[2]) == "kB" {
			n *= 1024
		}
		*dst = n
	}
	return st
}
