package crypto

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestRandom_Formats(t *testing.T) {
	r := NewRandom()
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	clientRE := regexp.MustCompile(`^[a-z2-7]{26}$`)
	seen := map[string]bool{}
	for range 1000 {
		tok := r.Token()
		if b, err := base64.RawURLEncoding.Strict().DecodeString(tok); err != nil || len(b) != 32 || len(tok) != 43 {
			t.Fatalf("Token %q: %d bytes, err %v; want 32 bytes base64url", tok, len(b), err)
		}
		sorted := r.SortedToken()
		if b, err := sortedBase64.Strict().DecodeString(sorted); err != nil || len(b) != 38 || len(sorted) != SortedTokenLength {
			t.Fatalf("SortedToken %q: %d bytes, err %v; want 38 bytes, %d characters", sorted, len(b), err, SortedTokenLength)
		}
		if strings.Trim(sorted, urlSafe) != "" {
			t.Fatalf("SortedToken %q is not URL-safe", sorted)
		}
		id := r.ID()
		if b, err := base64.RawURLEncoding.Strict().DecodeString(id); err != nil || len(b) != 16 {
			t.Fatalf("ID %q: %d bytes, err %v; want 16 bytes base64url", id, len(b), err)
		}
		fid := r.FamilyID()
		if b, err := sortedBase64.Strict().DecodeString(fid); err != nil || len(b) != 16 || len(fid) != 22 {
			t.Fatalf("FamilyID %q: %d bytes, err %v; want 16 bytes, 22 characters", fid, len(b), err)
		}
		if strings.Trim(fid, urlSafe) != "" {
			t.Fatalf("FamilyID %q is not URL-safe", fid)
		}
		uid := r.UserID()
		if !uuidRE.MatchString(uid) {
			t.Fatalf("UserID %q is not a canonical v4 UUID", uid)
		}
		if u, err := uuid.Parse(uid); err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("UserID %q: uuid.Parse: %v", uid, err)
		}
		cid := r.ClientID()
		if !clientRE.MatchString(cid) {
			t.Fatalf("ClientID %q is not 26 lower-case base32 characters", cid)
		}
		for _, v := range []string{tok, sorted, id, fid, uid, cid} {
			if seen[v] {
				t.Fatalf("value %q repeated", v)
			}
			seen[v] = true
		}
	}
}

const urlSafe = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// TestRandom_FamilyIDsSortByTime: family ids and sorted tokens made in a later
// millisecond compare greater as strings (what the database's indexes order by),
// whatever their random part; those of one millisecond share its prefix and differ in
// the random bits.
func TestRandom_FamilyIDsSortByTime(t *testing.T) {
	for name, mk := range map[string]func(time.Time) string{"familyID": familyID, "sortedToken": sortedToken} {
		t.Run(name, func(t *testing.T) {
			start := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
			var prev string
			for i := range 5000 {
				// Steps of 1 ms to a year, so that every byte of the time changes somewhere.
				now := start.Add(time.Duration(i*i*i) * time.Millisecond)
				id := mk(now)
				if i > 0 && id <= prev {
					t.Fatalf("%s(%v) = %q, not after %q", name, now, id, prev)
				}
				if twin := mk(now); twin == id || twin[:8] != id[:8] {
					t.Fatalf("two of one millisecond: %q and %q (want one 8-character time prefix, different rest)", id, twin)
				}
				b, err := sortedBase64.DecodeString(id)
				if err != nil {
					t.Fatal(err)
				}
				var ms int64
				for _, c := range b[:6] {
					ms = ms<<8 | int64(c)
				}
				if ms != now.UnixMilli() {
					t.Fatalf("%s(%v) holds %d ms, want %d", name, now, ms, now.UnixMilli())
				}
				prev = id
			}
		})
	}
}

// TestSecurity_S26_ClientIDNeverAUserID: no client id is a UUID in any textual
// form, so a client's sub never equals a user's.
func TestSecurity_S26_ClientIDNeverAUserID(t *testing.T) {
	r := NewRandom()
	for range 10000 {
		cid := r.ClientID()
		if _, err := uuid.Parse(cid); err == nil {
			t.Fatalf("client id %q parses as a UUID", cid)
		}
		if len(cid) == 36 || len(cid) == 32 {
			t.Fatalf("client id %q has a UUID length", cid)
		}
	}
}
