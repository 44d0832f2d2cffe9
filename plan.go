package usher

import "time"

// Plan is a user plan (licence): a feature set with a number of seats.
type Plan struct {
	ID            string     `json:"id"`
	TenantID      string     `json:"-"`
	Key           string     `json:"key"`
	Name          string     `json:"name"`
	Seats         int        `json:"seats"`
	SeatsUsed     int        `json:"seats_used"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
}
