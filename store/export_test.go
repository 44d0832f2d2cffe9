package store

// ClaimSeatSQL is the statement of a single seat claim on d, for tests of
// its query plan.
func ClaimSeatSQL(d Dialect) string {
	if d == Postgres {
		return claimSeatSQL(" FOR UPDATE SKIP LOCKED")
	}
	return claimSeatSQL("")
}
