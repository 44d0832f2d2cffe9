//go:build linux

package main

import (
	"crypto/sha256"
	"runtime"
	"testing"
	"time"
)

// A thread's CPU time counts neither its waiting nor the work of the
// process's other threads: a busy core elsewhere is not counted in the
// probe's time.
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
	if d, ok := w.once(); !ok || d <= 0 {
		t.Errorf("one probe run: %v, %v", d, ok)
	}
}

func TestSpeedProbe(t *testing.T) {
	if quiet := speedCalibration(); quiet <= 0 {
		t.Fatalf("calibration %v", quiet)
	}
	// A run at the start, then one per tick; ticks missed while the
	// machine was busy are dropped, never made up.
	most := func(d time.Duration) int { return 1 + int(d/speedInterval) }
	start := time.Now()
	p := startSpeedProbe()
	time.Sleep(3*speedInterval + speedInterval/2)
	s := p.end()
	if took := time.Since(start); s == nil || s.Runs < 2 || s.Runs > most(took) || s.ProbeUS <= 0 {
		t.Fatalf("probe over %v: %+v", took, s)
	}
	start = time.Now()
	s = startSpeedProbe().end()
	if took := time.Since(start); s == nil || s.Runs < 1 || s.Runs > most(took) || s.ProbeUS <= 0 {
		t.Errorf("a probe ended at once, after %v: %+v", took, s)
	}
}
