package repotest

import (
	"bytes"
	"testing"
	"time"

	"gatehouse/usecase"
)

// mail is the contract of usecase.MailOutbox: mails come back as stored, due ones
// oldest first; of many callers claiming one mail exactly one wins; a retry or claim
// made with a stale attempts count changes nothing.
func (s *suite) mail(t *testing.T) {
	if s.Mail == nil {
		t.Skip("no mail outbox")
	}
	ctx := t.Context()
	// Far in the past, so that no mail of another run of the suite is due before these.
	t0 := time.Date(2001, 2, 3, 4, 5, 6, 789123456, time.FixedZone("UTC-3", -3*3600))
	queued := func(kind string, at time.Time) usecase.QueuedMail {
		m := usecase.QueuedMail{ID: newID("mail"), Kind: kind, Sealed: newHash(), CreatedAt: at, NextAttemptAt: at}
		noErr(t, s.Mail.EnqueueMail(ctx, m))
		return m
	}
	due := func(now time.Time) []usecase.QueuedMail {
		got, err := s.Mail.DueMails(ctx, now, 100)
		noErr(t, err)
		return got
	}

	t.Run("RoundTripAndOrder", func(t *testing.T) {
		first := queued("verify_email", t0)
		second := queued("reset_password", t0.Add(time.Second))
		if got := due(t0.Add(-time.Second)); len(got) != 0 {
			t.Fatalf("%d mails due before any was queued", len(got))
		}
		got := due(t0.Add(time.Second))
		if len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID {
			t.Fatalf("due = %+v, want the two mails oldest first", got)
		}
		if got[0].Kind != "verify_email" || !bytes.Equal(got[0].Sealed, first.Sealed) || got[0].Attempts != 0 {
			t.Fatalf("mail came back as %+v", got[0])
		}
		sameTime(t, "created_at", first.CreatedAt, got[0].CreatedAt)
		sameTime(t, "next_attempt_at", first.NextAttemptAt, got[0].NextAttemptAt)
		if got, err := s.Mail.DueMails(ctx, t0.Add(time.Second), 1); err != nil || len(got) != 1 || got[0].ID != first.ID {
			t.Fatalf("limit 1: %+v, %v", got, err)
		}
		noErr(t, s.Mail.DeleteMail(ctx, first.ID))
		noErr(t, s.Mail.DeleteMail(ctx, second.ID))
		noErr(t, s.Mail.DeleteMail(ctx, second.ID)) // gone already: no error
		if got := due(t0.Add(time.Hour)); len(got) != 0 {
			t.Fatalf("deleted mails still due: %+v", got)
		}
	})

	t.Run("ClaimAndRetry", func(t *testing.T) {
		m := queued("verify_email", t0)
		if ok, err := s.Mail.ClaimMail(ctx, m.ID, 1, t0.Add(time.Minute)); err != nil || ok {
			t.Fatalf("claim with a stale attempts count: %v, %v", ok, err)
		}
		ok, err := s.Mail.ClaimMail(ctx, m.ID, 0, t0.Add(time.Minute))
		if err != nil || !ok {
			t.Fatalf("claim: %v, %v", ok, err)
		}
		if got := due(t0.Add(time.Minute - time.Millisecond)); len(got) != 0 {
			t.Fatalf("a claimed mail is due before its claim ends: %+v", got)
		}
		// A retry from a claim that was overtaken (attempts 0) changes nothing.
		noErr(t, s.Mail.RetryMail(ctx, m.ID, 0, t0, "stale"))
		if got := due(t0.Add(time.Second)); len(got) != 0 {
			t.Fatalf("a stale retry moved the mail: %+v", got)
		}
		noErr(t, s.Mail.RetryMail(ctx, m.ID, 1, t0.Add(10*time.Second), "421 try later"))
		got := due(t0.Add(10 * time.Second))
		if len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("after a retry: %+v", got)
		}
		sameTime(t, "next attempt", t0.Add(10*time.Second), got[0].NextAttemptAt)
		if ok, err := s.Mail.ClaimMail(ctx, "mail-missing", 0, t0); err != nil || ok {
			t.Fatalf("claim of a missing mail: %v, %v", ok, err)
		}
		noErr(t, s.Mail.DeleteMail(ctx, m.ID))
	})

	t.Run("RaceOneClaimWins", func(t *testing.T) {
		m := queued("verify_email", t0)
		raceOneWinner(t, "the claim of one mail", func() (bool, error) {
			return s.Mail.ClaimMail(ctx, m.ID, 0, t0.Add(time.Minute))
		})
		noErr(t, s.Mail.DeleteMail(ctx, m.ID))
	})
}
