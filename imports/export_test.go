package imports

// SetAfterBatch makes w call fn after each batch it records, with the rows
// recorded so far; ErrDied from fn stops w there as if it died.
func SetAfterBatch(w *Worker, fn func(done int) error) { w.afterBatch = fn }

// SetBeforeCreate makes w call fn when a batch's rows are checked and about
// to be created; an error fn returns fails the batch.
func SetBeforeCreate(w *Worker, fn func() error) { w.beforeCreate = fn }

// ErrDied is what an afterBatch hook returns to stop its worker dead.
var ErrDied = errDied

// SetBatchRows makes batches of n rows until the returned func is called.
func SetBatchRows(n int) (restore func()) {
	old := batchRows
	batchRows = n
	return func() { batchRows = old }
}

// SetBatches runs n batches at once until the returned func is called.
func SetBatches(n int) (restore func()) {
	old := importBatches
	importBatches = n
	return func() { importBatches = old }
}

// SetChunkSize stores files in chunks of n bytes until the returned func
// is called.
func SetChunkSize(n int) (restore func()) {
	old := chunkSize
	chunkSize = n
	return func() { chunkSize = old }
}
