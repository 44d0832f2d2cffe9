package main

import (
	"runtime"
	"slices"
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
//
// The work is sorting: branches, compares and moves in the core's caches,
// ordinary code as usher's and the database's is. The calibration's SHA-256
// loop runs on the CPU's SHA instructions instead: a probe of it hardly
// followed the levels' CPU per request (r = 0.29), a sort better (0.58;
// BENCHMARKS.md).
//
// Compare the probe between levels and runs, not with the calibration's
// figure: the calibration sorts back to back on warm caches, a level's
// probe every 100 ms on caches the load has just used, which reads higher
// with no slowdown at all.

const (
	speedInterval = 100 * time.Millisecond
	speedKeys     = 8192 // 64 kB with the copy sorted: in the core's L1 and L2; about half a millisecond
	speedCalRuns  = 25
)

// speedPhase is the probe's figure for one level.
type speedPhase struct {
	// ProbeUS is the median thread CPU time of one probe run during the
	// level, in microseconds.
	ProbeUS float64 `json:"probe_us"`
	Runs    int     `json:"runs"`
}

// speedWork is one probe run's work: sorting a copy of keys.
type speedWork struct {
	keys, scratch []uint32
}

func newSpeedWork() *speedWork {
	w := &speedWork{keys: make([]uint32, speedKeys), scratch: make([]uint32, speedKeys)}
	for i := range w.keys {
		w.keys[i] = uint32(i) * 2654435761 // every key once, scattered (Knuth's multiplicative hash)
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
	copy(w.scratch, w.keys)
	slices.Sort(w.scratch)
	t1, ok := threadCPU()
	return t1 - t0, ok && t1 >= t0
}

// speedCalibration is the probe's median over speedCalRuns runs on a
// quiet machine, in microseconds; 0 where thread CPU time is not known.
func speedCalibration() float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w := newSpeedWork()
	w.once() // warms the keys into the cache
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
		for stopped := false; !stopped; {
			v, ok := w.once()
			if !ok {
				p.done <- nil
				return
			}
			runs = append(runs, v)
			select {
			case <-p.stop: // first: a tick already due must not win over it
				stopped = true
			default:
				select {
				case <-p.stop:
					stopped = true
				case <-t.C:
				}
			}
		}
		p.done <- runs
	}()
	return p
}

// end stops the probe and gives its figure; nil where nothing was measured.
func (p *speedProbe) end() *speedPhase {
	close(p.stop)
	runs := <-p.done
	if len(runs) == 0 {
		return nil
	}
	return &speedPhase{Runs: len(runs), ProbeUS: float64(medianOf(runs)) / float64(time.Microsecond)}
}
