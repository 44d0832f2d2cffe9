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
	if d, ok := w.once(); !ok || d <= 0 {
		t.Errorf("one probe run: %v, %v", d, ok)
	}
}

func TestSpeedProbe(t *testing.T) {
	if base := speedCalibration(); base <= 0 {
		t.Fatalf("calibration %v", base)
	}
	p := startSpeedProbe()
	time.Sleep(3*speedInterval + speedInterval/2)
	s := p.end(500)
	if s == nil || s.Runs < 2 || s.Runs > 5 || s.ProbeUS <= 0 || s.Relative != 500/s.ProbeUS {
		t.Fatalf("probe over 350 ms: %+v", s)
	}
	if s := startSpeedProbe().end(0); s == nil || s.Runs != 1 || s.Relative != 0 {
		t.Errorf("a probe ended at once, uncalibrated: %+v", s)
	}
}
