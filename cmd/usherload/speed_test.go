//go:build linux

package main

import (
	"crypto/sha256"
	"runtime"
	"testing"
	"time"
)

// A thread's CPU time counts neither its waiting nor the work of the
// process's other threads: a busy core elsewhere does not slow the probe.
func TestThreadCPUIsTheThreadsOwn(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, ok := threadCPU()
	if !ok {
		t.Fatal("no thread CPU time on Linux")
	}
	const spin = 20 * time.Millisecond
	spun := make(chan time.Duration)
	go func() {
		runtime.LockOSThread() // the thread ends with the goroutine
		s0, _ := threadCPU()
		block := make([]byte, 4096)
		for {
			sha256.Sum256(block)
			if s, _ := threadCPU(); s-s0 >= spin {
				spun <- s - s0
				return
			}
		}
	}()
	other := <-spun // this thread sleeps meanwhile
	t1, _ := threadCPU()
	if waited := t1 - t0; waited > spin/4 || waited < 0 {
		t.Errorf("a waiting thread used %v of CPU while another used %v", waited, other)
	}
	w := newSpeedWork()
	if c, m, ok := w.once(); !ok || c <= 0 || m <= 0 {
		t.Errorf("one probe run: %v, %v, %v", c, m, ok)
	}
}

// The walk is one cycle through the whole table: no load repeats until
// every entry has been visited, so no run finds the last run's in a cache.
func TestChaseTableIsOneCycle(t *testing.T) {
	tab := chaseTable()
	if len(tab) != chaseEntries {
		t.Fatalf("%d entries", len(tab))
	}
	seen := make([]bool, len(tab))
	at := uint32(0)
	for i := range tab {
		if seen[at] {
			t.Fatalf("back at entry %d after %d steps of %d", at, i, len(tab))
		}
		seen[at] = true
		at = tab[at]
	}
	if at != 0 {
		t.Errorf("after %d steps at %d, not back at 0", len(tab), at)
	}
}

func TestSpeedProbe(t *testing.T) {
	if c, m := speedCalibration(); c <= 0 || m <= 0 {
		t.Fatalf("calibration %v, %v", c, m)
	}
	p := startSpeedProbe()
	time.Sleep(3*speedInterval + speedInterval/2)
	s := p.end(500, 300)
	if s == nil || s.Runs < 2 || s.Runs > 5 || s.ProbeUS <= 0 || s.MemoryUS <= 0 || s.Relative != 500/s.ProbeUS || s.MemoryRelative != 300/s.MemoryUS {
		t.Fatalf("probe over 350 ms: %+v", s)
	}
	if s := startSpeedProbe().end(0, 0); s == nil || s.Runs != 1 || s.Relative != 0 || s.MemoryRelative != 0 || s.MemoryUS <= 0 {
		t.Errorf("a probe ended at once, uncalibrated: %+v", s)
	}
}
