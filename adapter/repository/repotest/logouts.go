package repotest

import (
	"testing"
	"time"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// logouts is the contract of the back-channel logout queue (usecase.LogoutStore):
// deliveries come back as stored, due ones oldest first; a delivery whose client was
// registered dynamically, or is gone, is marked untrusted (SECURITY S57); a retry
// moves it later, a delete removes it.
func (s *suite) logouts(t *testing.T) {
	if s.Logouts == nil {
		t.Skip("no logout store")
	}
	ctx := t.Context()
	// Far in the past, so that no delivery of another run is due before these.
	t0 := time.Date(2001, 2, 3, 4, 5, 6, 789123456, time.FixedZone("UTC-3", -3*3600))
	operator := s.newClient(t)
	registered := s.newClient(t)
	registered.ID, registered.Name, registered.RegistrationTokenHash = newID("c"), newID("registered"), newHash()
	noErr(t, s.Clients.CreateClient(ctx, registered))
	delivery := func(clientID string, at time.Time) usecase.LogoutDelivery {
		return usecase.LogoutDelivery{ID: newID("bcl"), ClientID: clientID, URI: "https://rp.example/bcl?x=1",
			UserID: "u-" + randomHex(4), SessionID: "s-" + randomHex(4), IDTokenAlg: domain.AlgEdDSA,
			CreatedAt: at, NextAttemptAt: at}
	}
	ds := []usecase.LogoutDelivery{
		delivery(operator.ID, t0), delivery(registered.ID, t0.Add(time.Second)), delivery("c-gone-"+randomHex(4), t0.Add(2*time.Second)),
	}
	noErr(t, s.Logouts.EnqueueLogouts(ctx, ds))
	noErr(t, s.Logouts.EnqueueLogouts(ctx, nil))
	due := func(now time.Time, limit int) []usecase.LogoutDelivery {
		got, err := s.Logouts.DueLogouts(ctx, now, limit)
		noErr(t, err)
		return got
	}
	if got := due(t0.Add(-time.Second), 10); len(got) != 0 {
		t.Fatalf("%d deliveries due before any was queued", len(got))
	}
	got := due(t0.Add(2*time.Second), 10)
	if len(got) != 3 || got[0].ID != ds[0].ID || got[1].ID != ds[1].ID || got[2].ID != ds[2].ID {
		t.Fatalf("due = %+v, want the three oldest first", got)
	}
	for i, want := range []bool{false, true, true} {
		if got[i].Untrusted != want {
			t.Errorf("delivery %d (client %s): Untrusted = %v, want %v", i, got[i].ClientID, got[i].Untrusted, want)
		}
	}
	g, w := got[0], ds[0]
	if g.ClientID != w.ClientID || g.URI != w.URI || g.UserID != w.UserID || g.SessionID != w.SessionID ||
		g.IDTokenAlg != w.IDTokenAlg || g.Attempts != 0 {
		t.Fatalf("delivery came back as %+v, want %+v", g, w)
	}
	sameTime(t, "created_at", w.CreatedAt, g.CreatedAt)
	sameTime(t, "next_attempt_at", w.NextAttemptAt, g.NextAttemptAt)
	if got := due(t0.Add(time.Hour), 1); len(got) != 1 || got[0].ID != ds[0].ID {
		t.Fatalf("limit 1: %+v", got)
	}

	noErr(t, s.Logouts.RetryLogout(ctx, ds[0].ID, 1, t0.Add(time.Minute)))
	if got := due(t0.Add(30*time.Second), 10); len(got) != 2 || got[0].ID != ds[1].ID {
		t.Fatalf("after a retry a minute later, due = %+v", got)
	}
	got = due(t0.Add(time.Minute), 10)
	if len(got) != 3 || got[2].ID != ds[0].ID || got[2].Attempts != 1 {
		t.Fatalf("the retried delivery: %+v", got)
	}
	sameTime(t, "next_attempt_at after retry", t0.Add(time.Minute), got[2].NextAttemptAt)
	for _, d := range ds {
		noErr(t, s.Logouts.DeleteLogout(ctx, d.ID))
	}
	noErr(t, s.Logouts.DeleteLogout(ctx, ds[0].ID)) // gone already: no error
	if got := due(t0.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("deleted deliveries still due: %+v", got)
	}
}
