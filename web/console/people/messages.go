package people

import (
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/message"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/view"
)

// Messages lists what was sent to whom, newest first.
func (h *Handler) Messages(w http.ResponseWriter, r *http.Request, c *console.Call) {
	q := r.URL.Query()
	f := store.MessageFilter{State: q.Get("state"), Kind: q.Get("kind"), Channel: q.Get("channel"), AccountID: q.Get("account_id")}
	c.Data.Values["state"], c.Data.Values["kind"], c.Data.Values["channel"] = f.State, f.Kind, f.Channel
	o := console.PageOf(r)
	o.Newest = true
	msgs, next, err := h.Store.Read().Messages(r.Context(), c.Tenant.ID, f, o)
	if err == nil {
		msgs, err = h.svc.ComposeAll(c.Tenant, msgs)
	}
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section = "Messages", "messages"
	c.Data.Data = map[string]any{"Messages": msgs, "Next": console.NextURL(r, next), "Kinds": messageKinds, "Names": kindNames(), "Delivers": h.Delivers}
	h.View.Console(w, r, http.StatusOK, pages["messages"], c.Data)
}

// Message shows one message whole: on the embedded default, where
// nothing is delivered, this is where a newcomer finds the activation link.
func (h *Handler) Message(w http.ResponseWriter, r *http.Request, c *console.Call) {
	m, err := h.Store.Read().Message(r.Context(), c.Tenant.ID, r.PathValue("id"))
	if err == nil {
		var one []usher.Message
		one, err = h.svc.ComposeAll(c.Tenant, []usher.Message{m})
		if err == nil {
			m = one[0]
		}
	}
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section = "Message to "+m.To, "messages"
	c.Data.Data = map[string]any{"M": m, "Kind": or(kindNames()[m.Kind], m.Kind), "Delivered": h.Delivers[m.Channel], "Channel": channelNames[m.Channel],
		"Language": view.LanguageName(m.Language)}
	h.View.Console(w, r, http.StatusOK, pages["message"], c.Data)
}

// messageKinds name the kinds of message as the console speaks of them:
// in a sentence, and in the list of messages.
var messageKinds = []struct{ Kind, A, Name string }{
	{provision.KindInvitation, "an invitation", "Invitation"},
	{provision.KindWelcome, "the welcome message", "Welcome"},
	{provision.KindActivation, "a new activation link", "New activation link"},
	{provision.KindRegistration, "a registration confirmation", "Registration"},
	{provision.KindPasswordReset, "a password reset link", "Password reset"},
	{message.KindOneTimePassword, "a one-time password notice", "One-time password set"},
	{provision.KindIdentityJoined, "a notice that the account joined their sign-in", "Sign-in joined"},
	{provision.KindLinkAuthorize, "a request to connect an external account", "Connect an account"},
	{provision.KindLinkReauthorize, "a request to reconnect an external account", "Reconnect an account"},
}

// kindNames are the names of the kinds of message by kind.
func kindNames() map[string]string {
	m := map[string]string{}
	for _, k := range messageKinds {
		m[k.Kind] = k.Name
	}
	return m
}

// channelNames are the channels as people write them.
var channelNames = map[string]string{usher.ChannelEmail: "email", usher.ChannelSMS: "SMS"}

// sent says what became of new messages: queued for a channel a provider
// delivers, or kept under Messages when none is configured for it, so
// nobody is told a message went out when it sits in the outbox.
func (h *Handler) sent(msgs []usher.Message) string {
	if len(msgs) == 0 {
		return "no message was made: the tenant sends on no channel this person has an address for."
	}
	what := "a message"
	for _, k := range messageKinds {
		if k.Kind == msgs[0].Kind {
			what = k.A
		}
	}
	var queued, kept []string
	var idle []string // channels without a provider
	for _, m := range msgs {
		ch := channelNames[m.Channel]
		if h.Delivers[m.Channel] {
			queued = append(queued, ch+" to "+m.To)
			continue
		}
		kept = append(kept, m.To)
		idle = append(idle, ch)
	}
	var parts []string
	if len(queued) > 0 {
		parts = append(parts, "queued to go out by "+strings.Join(queued, " and by "))
	}
	if len(kept) > 0 {
		parts = append(parts, "kept under Messages for "+strings.Join(kept, " and ")+
			" (no "+strings.Join(idle, " or ")+" provider is configured, so nothing is sent)")
	}
	return what + " is " + strings.Join(parts, ", and ") + "."
}
