package provision

import (
	"context"
	"strconv"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
)

// LinkMessages renders the messages of kind KindLinkAuthorize or
// KindLinkReauthorize for account a: the person is asked to authorize, or
// to reconnect, their account in the external system named systemName
// (exchange: Exchange on-premises, which takes their user name and password
// instead of their consent), on the page at link. There is one message per
// channel the tenant enables and the account has an address for, as for
// an activation; none (an empty Outbox) when there is no such channel.
//
// It reads the person from the read pool and renders outside any
// transaction; queue the Outbox with Queue inside the write transaction
// that records the change, so the message commits with it. Every call makes
// new messages: a reminder sent again is a message of its own.
func (s *Service) LinkMessages(ctx context.Context, tenant usher.Tenant, a usher.Account, kind, systemName string, exchange bool, link string) (Outbox, error) {
	var o Outbox
	if kind != KindLinkAuthorize && kind != KindLinkReauthorize {
		return o, usher.Invalid("kind", "must be %q or %q", KindLinkAuthorize, KindLinkReauthorize)
	}
	chs := channels(tenant, a)
	if len(chs) == 0 {
		return o, nil
	}
	person, err := s.st.Read().Person(ctx, tenant.ID, a.PersonID)
	if err != nil {
		return o, err
	}
	d := renderData{tenant: tenant, person: person, account: a, link: link, systemName: systemName, exchange: exchange}
	// The time tells this sending from an earlier one of the same link.
	at := strconv.FormatInt(s.now().UnixNano(), 10)
	for _, ch := range chs {
		m, err := s.render(kind, ch.name, d)
		if err != nil {
			return Outbox{}, err
		}
		m.AccountID, m.To, m.Channel = a.ID, ch.to, ch.name
		// The account id first keeps the key's index appending.
		m.DedupeKey = a.ID + "/" + secret.Hash(kind+"|"+a.ID+"|"+link+"|"+ch.name+"|"+at)
		o.msgs = append(o.msgs, m)
	}
	return o, nil
}
