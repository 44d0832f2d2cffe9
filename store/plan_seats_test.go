package store_test

import (
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// testPlanSeats: a plan's seats are numbered 1…n without a gap or a double
// however many statements add them, when it is made and when it grows
// after shrinking.
func testPlanSeats(t *testing.T, e *env) {
	tn := e.tenant("acme", usher.TemplateStandard)
	p := e.plan(tn, "big", 20_003)
	check := func(want int) {
		t.Helper()
		var n, distinct, lo, hi int
		err := e.st.Read().QueryRowContext(e.ctx, `SELECT count(*), count(DISTINCT seat_no), coalesce(min(seat_no), 0), coalesce(max(seat_no), 0)
			FROM plan_seats WHERE plan_id = $1`, p.ID).Scan(&n, &distinct, &lo, &hi)
		if err != nil || n != want || distinct != want || lo != 1 || hi != want {
			t.Fatalf("seats: %d (%d distinct) numbered %d…%d, want 1…%d (%v)", n, distinct, lo, hi, want, err)
		}
	}
	check(20_003)
	for _, seats := range []int{20_000, 25_001} {
		p.Seats = seats
		e.write(func(tx *store.Tx) error { return tx.UpdatePlan(e.ctx, tn.ID, &p) })
		check(seats)
	}
}
