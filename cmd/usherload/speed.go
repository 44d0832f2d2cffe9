package main

import (
	"crypto/sha256"
	"hash"
	"runtime"
	"time"
)

// The core's speed while the load runs. The calibration measures the
// machine before a run, but a virtual machine's host can slow its cores in
// the middle of one: another guest busy on the same physical core, a lower
// clock. The host's steal time does not show it, and it then reads as usher
// needing more CPU per request. So a probe thread does a fixed piece of
// work every speedInterval and times it in its own thread's CPU time:
// waiting for a core on a saturated machine does not count, only how fast
// the core runs the work once it has one.

const (
	speedInterval = 100 * time.Millisecond
	speedBlock    = 64 << 10 // held in a core's own cache: no memory speed
	speedBlocks   = 16       // 1 MiB hashed per run: well under a millisecond
	speedCalRuns  = 25
)

// speedPhase is the probe's figure for one level.
type speedPhase struct {
	// ProbeUS is the median thread CPU time of one probe run during the
	// level, in microseconds.
	ProbeUS float64 `json:"probe_us"`
	Runs    int     `json:"runs"`
	// Relative is the calibration's probe time over this one: 1 when the
	// cores ran as fast as when calibrated, 0.8 when a fifth slower.
	// 0 when the run was not calibrated.
	Relative float64 `json:"relative_to_calibration,omitempty"`
}

// speedWork is one probe run's work and how its time is taken.
type speedWork struct {
	h     hash.Hash
	block []byte
	sum   []byte
}

func newSpeedWork() *speedWork {
	w := &speedWork{h: sha256.New(), block: make([]byte, speedBlock), sum: make([]byte, 0, sha256.Size)}
	for i := range w.block {
		w.block[i] = byte(i * 7)
	}
	return w
}

// once runs the work on the calling thread and returns that thread's CPU
// time for it; false where thread CPU time cannot be read. The caller
// holds its OS thread (runtime.LockOSThread).
func (w *speedWork) once() (time.Duration, bool) {
	t0, ok := threadCPU()
	if !ok {
		return 0, false
	}
	w.h.Reset()
	for range speedBlocks {
		w.h.Write(w.block)
	}
	w.sum = w.h.Sum(w.sum[:0])
	t1, ok := threadCPU()
	return t1 - t0, ok && t1 >= t0
}

// speedCalibration is the probe's median over speedCalRuns runs on a
// quiet machine, in microseconds; 0 where thread CPU time is not known.
func speedCalibration() float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w := newSpeedWork()
	w.once() // warms the block into the cache
	d := make([]time.Duration, 0, speedCalRuns)
	for range speedCalRuns {
		v, ok := w.once()
		if !ok {
			return 0
		}
		d = append(d, v)
	}
	return float64(medianOf(d)) / float64(time.Microsecond)
}

// speedProbe runs the probe in the background until end.
type speedProbe struct {
	stop chan struct{}
	done chan []time.Duration
}

// startSpeedProbe starts probing at once and then every speedInterval.
func startSpeedProbe() *speedProbe {
	p := &speedProbe{stop: make(chan struct{}), done: make(chan []time.Duration, 1)}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		w := newSpeedWork()
		var runs []time.Duration
		t := time.NewTicker(speedInterval)
		defer t.Stop()
		for {
			v, ok := w.once()
			if !ok {
				p.done <- nil
				return
			}
			runs = append(runs, v)
			select {
			case <-p.stop:
				p.done <- runs
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// end stops the probe and gives its figure, relative to base (the
// calibration's probe time, 0 if none); nil where nothing was measured.
func (p *speedProbe) end(base float64) *speedPhase {
	close(p.stop)
	runs := <-p.done
	if len(runs) == 0 {
		return nil
	}
	s := &speedPhase{Runs: len(runs), ProbeUS: float64(medianOf(runs)) / float64(time.Microsecond)}
	if base > 0 && s.ProbeUS > 0 {
		s.Relative = base / s.ProbeUS
	}
	return s
}
