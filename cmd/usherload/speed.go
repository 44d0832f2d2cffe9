package main

import (
	"crypto/sha256"
	"hash"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// The machine's speed while the load runs. The calibration measures the
// machine before a run, but a virtual machine's host can slow it in the
// middle of one: another guest busy on the same physical core or on the
// same memory, a lower clock. The host's steal time does not show it, and
// it then reads as usher needing more CPU per request. So a probe thread
// does two fixed pieces of work every speedInterval and times each in its
// own thread's CPU time: waiting for a core on a saturated machine does not
// count, only how fast the machine runs the work once it has a core.
//
//   - the core: SHA-256 over a block held in the core's own cache;
//   - memory: dependent loads at random over a table larger than the
//     caches, as B-trees and a garbage collector's marking make them.

const (
	speedInterval = 100 * time.Millisecond
	speedBlock    = 64 << 10 // held in a core's own cache: no memory speed
	speedBlocks   = 16       // 1 MiB hashed per run: well under a millisecond
	speedCalRuns  = 25
	chaseEntries  = 16 << 20 // a 64 MiB table of uint32
	chaseSteps    = 2048     // loads per run: a third of a millisecond
)

// speedPhase is the probe's figures for one level.
type speedPhase struct {
	// ProbeUS and MemoryUS are the median thread CPU times of the two
	// pieces of work during the level, in microseconds.
	ProbeUS  float64 `json:"probe_us"`
	MemoryUS float64 `json:"memory_probe_us"`
	Runs     int     `json:"runs"`
	// Relative and MemoryRelative are the calibration's times over these:
	// 1 when the machine ran as fast as when calibrated, 0.8 when a fifth
	// slower. 0 when the run was not calibrated.
	Relative       float64 `json:"relative_to_calibration,omitempty"`
	MemoryRelative float64 `json:"memory_relative_to_calibration,omitempty"`
}

// chaseTable is one cycle through every entry in random order (Sattolo's
// shuffle), so a walk never falls into a short loop that the caches hold.
// Made once, on first use: it takes a few hundred milliseconds.
var chaseTable = sync.OnceValue(func() []uint32 {
	t := make([]uint32, chaseEntries)
	for i := range t {
		t[i] = uint32(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(t) - 1; i > 0; i-- {
		j := rng.IntN(i)
		t[i], t[j] = t[j], t[i]
	}
	return t
})

// speedWork is one probe run's work and where the walk stands.
type speedWork struct {
	h     hash.Hash
	block []byte
	sum   []byte
	table []uint32
	at    uint32
}

func newSpeedWork() *speedWork {
	w := &speedWork{h: sha256.New(), block: make([]byte, speedBlock), sum: make([]byte, 0, sha256.Size), table: chaseTable()}
	for i := range w.block {
		w.block[i] = byte(i * 7)
	}
	return w
}

// once runs both pieces of work on the calling thread and returns that
// thread's CPU time for each; false where thread CPU time cannot be read.
// The caller holds its OS thread (runtime.LockOSThread).
func (w *speedWork) once() (core, memory time.Duration, ok bool) {
	t0, ok := threadCPU()
	if !ok {
		return 0, 0, false
	}
	w.h.Reset()
	for range speedBlocks {
		w.h.Write(w.block)
	}
	w.sum = w.h.Sum(w.sum[:0])
	t1, _ := threadCPU()
	at := w.at
	for range chaseSteps {
		at = w.table[at]
	}
	w.at = at // goes on where it stopped: the next run's loads are not cached
	t2, ok := threadCPU()
	return t1 - t0, t2 - t1, ok && t1 >= t0 && t2 >= t1
}

// speedCalibration is the probe's medians over speedCalRuns runs on a
// quiet machine, in microseconds; 0 where thread CPU time is not known.
func speedCalibration() (core, memory float64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w := newSpeedWork()
	w.once() // warms the block into the cache
	var c, m []time.Duration
	for range speedCalRuns {
		a, b, ok := w.once()
		if !ok {
			return 0, 0
		}
		c, m = append(c, a), append(m, b)
	}
	return µs(medianOf(c)), µs(medianOf(m))
}

func µs(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// speedProbe runs the probe in the background until end.
type speedProbe struct {
	stop chan struct{}
	done chan [2][]time.Duration
}

// startSpeedProbe starts probing at once and then every speedInterval.
func startSpeedProbe() *speedProbe {
	p := &speedProbe{stop: make(chan struct{}), done: make(chan [2][]time.Duration, 1)}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		w := newSpeedWork()
		var runs [2][]time.Duration
		t := time.NewTicker(speedInterval)
		defer t.Stop()
		for {
			c, m, ok := w.once()
			if !ok {
				p.done <- [2][]time.Duration{}
				return
			}
			runs[0], runs[1] = append(runs[0], c), append(runs[1], m)
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

// end stops the probe and gives its figures, relative to the calibration's
// (0 if none); nil where nothing was measured.
func (p *speedProbe) end(core, memory float64) *speedPhase {
	close(p.stop)
	runs := <-p.done
	if len(runs[0]) == 0 {
		return nil
	}
	s := &speedPhase{Runs: len(runs[0]), ProbeUS: µs(medianOf(runs[0])), MemoryUS: µs(medianOf(runs[1]))}
	if core > 0 && s.ProbeUS > 0 {
		s.Relative = core / s.ProbeUS
	}
	if memory > 0 && s.MemoryUS > 0 {
		s.MemoryRelative = memory / s.MemoryUS
	}
	return s
}
