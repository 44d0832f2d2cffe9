package store

// ClaimSeatSQL is the statement of a single seat claim on d, for tests of
// its query plan.
func ClaimSeatSQL(d Dialect) string {
	if d == Postgres {
		return claimSeatSQL(" FOR UPDATE SKIP LOCKED")
	}
	return claimSeatSQL("")
}

// PersonJoinSQL are the statements that join an account to its person:
// UserRecordByLogin's, UserRecords' for two ids, OpenIDSubject's,
// AuthRequestByCodeWithSubject's, RefreshTokenWithSubject's and
// AccountIDsByEmail's, for tests of their query plans.
func PersonJoinSQL(d Dialect) []string {
	return []string{userRecordByLoginSQL,
		`SELECT ` + userRecordCols + ` FROM` + userRecordFrom + ` WHERE a.tenant_id = $1 AND ` + userRecordPerson + ` AND a.id IN ($2, $3)`,
		openIDSubjectSQL(d, true), authRequestWithSubjectSQL(d), refreshTokenWithSubjectSQL(d), accountIDsByEmailSQL}
}

// QueuedWrites is how many writes wait for SQLite's writer.
func (s *Store) QueuedWrites() int { return len(s.queue) }

// Splits is how many WriteMany batches failed and ran again in halves.
func (s *Store) Splits() int64 { return s.splits.Load() }
