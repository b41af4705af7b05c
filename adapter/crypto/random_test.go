package crypto

import (
	"encoding/base64"
	"regexp"
	"testing"

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
		id := r.ID()
		if b, err := base64.RawURLEncoding.Strict().DecodeString(id); err != nil || len(b) != 16 {
			t.Fatalf("ID %q: %d bytes, err %v; want 16 bytes base64url", id, len(b), err)
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
		for _, v := range []string{tok, id, uid, cid} {
			if seen[v] {
				t.Fatalf("value %q repeated", v)
			}
			seen[v] = true
		}
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
