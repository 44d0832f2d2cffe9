package openid

// SweepInBatches makes sweeps delete batch rows per table at a time, for
// at most passes batches, until the test ends.
func SweepInBatches(t interface{ Cleanup(func()) }, batch, passes int) {
	b, p := sweepBatch, sweepPasses
	sweepBatch, sweepPasses = batch, passes
	t.Cleanup(func() { sweepBatch, sweepPasses = b, p })
}
