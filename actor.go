package usher

// Kinds of actor: who or what made a change, as audit events record it.
const (
	ActorOperator = "operator" // an operator token or an operator's console session
	ActorToken    = "token"    // a tenant API token
	ActorAccount  = "account"  // a signed-in account (the console, the person's own pages)
	ActorSystem   = "system"   // usher itself, under the tenant's rules (self-registration)
	ActorSCIM     = "scim"     // a provisioning source speaking SCIM
	ActorImport   = "import"   // a bulk import, on behalf of the administrator who started it
	ActorSSO      = "sso"      // a corporate SSO connection (just-in-time creation, attribute refresh)
)

// Actor is who makes a change: written into the audit event and checked
// against what the change requires.
type Actor struct {
	Kind   string // one of the Actor* kinds
	ID     string // the token's, account's or connection's id; "" for the system
	Role   string // PrincipalOperator, AdminTenant, AdminUser, or "" for system actors
	Source string // client address
}

// System is the actor for changes usher makes under a tenant's rules (self
// registration), not on someone's authority.
var System = Actor{Kind: ActorSystem}

// Event is the audit event of a change the actor made to a target. Every
// package builds its events here, so they all have one shape.
func (a Actor) Event(action, targetKind, targetID string, details map[string]string) *AuditEvent {
	return &AuditEvent{ActorKind: a.Kind, ActorID: a.ID, Source: a.Source, Action: action,
		TargetKind: targetKind, TargetID: targetID, Details: details}
}

// rank orders what an actor may administer: operators above tenant
// administrators above user administrators. Usher's own rules (self
// registration, SSO, SCIM, imports) act with a user administrator's reach
// over accounts and never grant administrator rights.
func (a Actor) rank() int {
	switch a.Role {
	case PrincipalOperator:
		return 3
	case AdminTenant:
		return 2
	case AdminUser:
		return 1
	}
	switch a.Kind {
	case ActorSystem, ActorSCIM, ActorImport, ActorSSO:
		return 1
	}
	return 0
}

// roleNames say a role as people read it.
var roleNames = map[string]string{PrincipalOperator: "an operator", AdminTenant: "a tenant administrator", AdminUser: "a user administrator"}

// Require fails with CodeForbidden unless the actor has at least the role.
func (a Actor) Require(role string) error {
	if a.rank() >= (Actor{Role: role}).rank() {
		return nil
	}
	return Forbidden("this needs %s", roleNames[role])
}
