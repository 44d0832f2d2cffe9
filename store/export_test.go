package store

// ClaimSeatSQL is the statement of a single seat claim on d, for tests of
// its query plan.
func ClaimSeatSQL(d Dialect) string {
	if d == Postgres {
		return claimSeatSQL(" FOR UPDATE SKIP LOCKED")
	}
	return claimSeatSQL("")
}

// UserRecordSQL are the statements of UserRecordByLogin and of UserRecords
// for two ids, for tests of their query plans.
func UserRecordSQL() []string {
	return []string{userRecordByLoginSQL,
		`SELECT ` + userRecordCols + ` FROM` + userRecordFrom + ` WHERE a.tenant_id = $1 AND ` + userRecordPerson + ` AND a.id IN ($2, $3)`}
}
