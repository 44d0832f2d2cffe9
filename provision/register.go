package provision

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/usherhq/usher"
)

// Registration is what a person types into the registration form.
type Registration struct {
	FirstName    string
	LastName     string
	Email        string
	Username     string
	Phone        string
	DepartmentID string // taken only where the person may pick one
	Language     string
	Source       string // the client address
}

// Via is how a registration arrives: the tenant's own registration
// setting, or a sign-up link with its defaults.
type Via struct {
	// LinkID is the sign-up link's id; its use is counted in the same
	// transaction as the account.
	LinkID   string
	Defaults Defaults
}

// ErrRegistrationClosed: the tenant takes no registration for this person.
var ErrRegistrationClosed = usher.Forbidden("this organization does not take registrations; ask your administrator for access")

// RegistrationAllows reports whether the tenant's registration setting
// takes a person signing in with login (already normalized).
func RegistrationAllows(tenant usher.Tenant, login string) bool {
	st := tenant.Settings
	switch st.Registration {
	case "open":
		return true
	case "domains":
		return strings.Contains(login, "@") && slices.Contains(st.RegistrationDomains, usher.EmailDomain(login))
	}
	return false
}

// Register is self-registration (seeds 000 and 003): a new person in the
// tenant's own organization and their invited account, with the tenant's
// (or the link's) defaults, through the one provisioning path: seats,
// required fields, audit, and the activation message that proves the
// address before the person can sign in. A person whose email signs in
// elsewhere joins that identity when they activate (see Inspect).
func (s *Service) Register(ctx context.Context, tenant usher.Tenant, in Registration, via Via) (Created, error) {
	if tenant.DeactivatedAt != nil {
		return Created{}, ErrRegistrationClosed
	}
	st := tenant.Settings
	pi := PersonInput{FirstName: in.FirstName, LastName: in.LastName, Language: in.Language}
	ai := AccountInput{Route: RouteRegistration, Person: &pi, Defaults: via.Defaults, MessageKind: KindRegistration, SignupLinkID: via.LinkID}
	var errs usher.Errors
	if st.RegistersBy() == usher.RegistrationByUsernamePhone {
		if strings.TrimSpace(in.Username) == "" {
			errs = append(errs, usher.Invalid("username", "choose a username"))
		}
		if strings.TrimSpace(in.Phone) == "" {
			errs = append(errs, usher.Invalid("phone", "enter your mobile phone number"))
		}
		ai.Username, pi.Phone = in.Username, in.Phone
	} else {
		email, err := usher.NormalizeEmail("email", in.Email)
		switch {
		case err != nil:
			errs = append(errs, err.(*usher.Error))
		case email == "":
			errs = append(errs, usher.Invalid("email", "enter your email address"))
		case via.LinkID == "" && !RegistrationAllows(tenant, email):
			if st.Registration == "domains" {
				errs = append(errs, usher.Invalid("email", "registration is open to addresses of %s only", strings.Join(st.RegistrationDomains, ", ")))
			}
		}
		pi.Email = email
		if email != "" {
			realm, err := s.HomeRealm(ctx, tenant, email, nil)
			if err != nil {
				return Created{}, err
			}
			if c := realm.Owner(); c != nil {
				errs = append(errs, usher.Invalid("email", "addresses of %s sign in with %s, your organization's single sign-on: use it from the sign-in page", usher.EmailDomain(email), c.Name))
			}
		}
	}
	if via.LinkID == "" && st.Registration == "off" {
		return Created{}, ErrRegistrationClosed
	}
	if st.RegistrationDepartment && via.Defaults.DepartmentID == "" {
		pi.DepartmentID = in.DepartmentID
	}
	if len(errs) > 0 {
		// Report the provisioning path's problems with these, all at once.
		if _, err := s.plan(ctx, tenant, &ai); err != nil {
			var more usher.Errors
			var one *usher.Error
			if errors.As(err, &more) {
			} else if errors.As(err, &one) {
				more = usher.Errors{one}
			}
			for _, e := range more {
				if !slices.ContainsFunc(errs, func(x *usher.Error) bool { return x.Field == e.Field }) {
					errs = append(errs, e)
				}
			}
		}
		return Created{}, errs.Err()
	}
	actor := usher.System
	actor.Source = in.Source
	c, err := s.CreateAccount(ctx, actor, tenant, ai)
	var e *usher.Error
	if errors.As(err, &e) && e.Code == usher.CodeInvalid && e.Field == "plan_id" {
		// A tenant without a default plan cannot take registrations: its
		// administrator must fix that, not the person registering.
		return Created{}, usher.Forbidden("registration is not set up yet in this organization (it has no plan for new users); ask your administrator")
	}
	return c, err
}
