package e2e

// Key rotation with several instances on one database (issue 9): a rotated-in key is
// published by every instance before any instance signs with it, and scheduled
// rotation replaces each key once per interval whichever instance holds the lease.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/infrastructure/database/dbtest"
)

// keyListRow is a row of `keys list --json` / the answer of `keys rotate --json`.
type keyListRow struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	Status      string     `json:"status"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiredAt   *time.Time `json:"retired_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// verifyWithJWKS checks raw's signature with the key of its kid in keys (a JWKS
// fetched before) and its iss, exp and iat, as a resource server would; it returns
// the kid.
func verifyWithJWKS(t *testing.T, keys map[string]jwk, issuer, raw string) (string, error) {
	t.Helper()
	var kid string
	_, err := jwt.ParseWithClaims(raw, &accessClaims{}, func(tok *jwt.Token) (any, error) {
		kid, _ = tok.Header["kid"].(string)
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("kid %q is not in the JWKS", kid)
		}
		if k.Alg != tok.Method.Alg() {
			return nil, fmt.Errorf("alg %s but the key is %s", tok.Method.Alg(), k.Alg)
		}
		return k.publicKey(t), nil
	}, jwt.WithValidMethods([]string{"ES256", "RS256", "EdDSA"}), jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	return kid, err
}

// TestKeyRotation_MultiInstance is issue 9: three instances A, B, C on one PostgreSQL
// database. `keys rotate` (through A's configuration) with a 3 s activation delay;
// then, until well after the activation, fetch C's JWKS and right after issue a token
// on B: every token's kid is in the JWKS fetched just before it, and verifies
// against it. The new key shows in C's JWKS before any token carries it, no token
// carries it before its activation time, and eventually every token does.
func TestKeyRotation_MultiInstance(t *testing.T) {
	t.Parallel()
	const issuer = "http://gatehouse.test"
	nodes := startCluster(t, dbtest.Postgres(t), 3, map[string]string{
		"GATEHOUSE_ISSUER":               issuer,
		"GATEHOUSE_KEY_REFRESH_INTERVAL": "1s",
		"GATEHOUSE_KEY_ACTIVATION_DELAY": "3s",
	}).Nodes
	a, b, c := nodes[0], nodes[1], nodes[2]
	id, secret := a.CreateClient(t, "--grant-type", "client_credentials", "--scope", "api")
	for _, s := range nodes {
		s.Sensitive(secret)
	}
	hc := b.HTTPClient()
	issue := func() string {
		t.Helper()
		tok, err := ccConfig(b, id, secret).Token(ctxWith(hc))
		if err != nil {
			t.Fatalf("client credentials on B: %v", err)
		}
		b.Sensitive(tok.AccessToken)
		return tok.AccessToken
	}
	oldKID, err := verifyWithJWKS(t, fetchJWKS(t, c), issuer, issue())
	if err != nil {
		t.Fatalf("before the rotation: a token of B does not verify against C's JWKS: %v", err)
	}

	var rotated keyListRow
	a.CLIJSON(t, &rotated, "", "keys", "rotate")
	if rotated.KID == "" || rotated.KID == oldKID || rotated.Alg != "ES256" || rotated.State != "next" {
		t.Fatalf("keys rotate --json: %+v (old kid %s)", rotated, oldKID)
	}
	activates := rotated.ActivatesAt
	if d := activates.Sub(rotated.CreatedAt); d != 3*time.Second {
		t.Fatalf("the new key activates %s after its creation, want GATEHOUSE_KEY_ACTIVATION_DELAY=3s", d)
	}

	var tokens, withNew int
	var publishedBefore bool // C published the new key before its activation
	deadline := time.Now().Add(60 * time.Second)
	for {
		now := time.Now()
		if now.After(deadline) {
			t.Fatalf("B still signs with the old key 60 s after the rotation (activation at %v)", activates)
		}
		jwks := fetchJWKS(t, c)
		if _, ok := jwks[rotated.KID]; ok && time.Now().Before(activates) {
			publishedBefore = true
		}
		raw := issue()
		issued := time.Now()
		tokens++
		kid, err := verifyWithJWKS(t, jwks, issuer, raw)
		if err != nil {
			t.Fatalf("token %d of B (kid %s) does not verify against C's JWKS fetched just before (issue 9): %v", tokens, kid, err)
		}
		if kid == rotated.KID {
			withNew++
			if issued.Before(activates) {
				t.Fatalf("B signed with the new key at %v, before its activation at %v", issued, activates)
			}
		} else if kid != oldKID {
			t.Fatalf("token signed by %s, neither the old key %s nor the new %s", kid, oldKID, rotated.KID)
		}
		if withNew >= 5 && now.After(activates.Add(2*time.Second)) {
			break
		}
		time.Sleep(10 * time.Millisecond) // a steady client, not a load test
	}
	if !publishedBefore {
		t.Errorf("C's JWKS never listed the new key before its activation (the refresh interval is 1 s, the delay 3 s)")
	}
	t.Logf("%d tokens, %d of the new key", tokens, withNew)

	// The default activation delay on a shared database counts on this max-age.
	if cc := c.Get(t, nil, "/.well-known/jwks.json").Header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("JWKS Cache-Control %q: GATEHOUSE_KEY_ACTIVATION_DELAY's default assumes max-age=60", cc)
	}
	// The old key stays published while its tokens live.
	if _, ok := fetchJWKS(t, c)[oldKID]; !ok {
		t.Errorf("the old key %s left C's JWKS", oldKID)
	}
	var keys []keyListRow
	c.CLIJSON(t, &keys, "", "keys", "list")
	state := map[string]string{}
	for _, k := range keys {
		state[k.KID] = k.State
	}
	if state[rotated.KID] != "active" || state[oldKID] != "retired" {
		t.Errorf("keys list after the activation: new %q, old %q", state[rotated.KID], state[oldKID])
	}
}

var rotatedLogRE = regexp.MustCompile(`msg="signing key rotated" alg=ES256 kid=(\S+)`)

func rotationsLogged(s *Server) []string {
	var kids []string
	for _, m := range rotatedLogRE.FindAllStringSubmatch(s.Log(), -1) {
		kids = append(kids, m[1])
	}
	return kids
}

// TestKeyRotation_ScheduledAcrossInstances: two instances with a 4 s rotation
// interval rotate each key once per interval between them, the new key overlapping
// the old one by the activation delay. When the instance that rotates stops, the
// other one carries on.
func TestKeyRotation_ScheduledAcrossInstances(t *testing.T) {
	t.Parallel()
	const interval = 4 * time.Second
	nodes := startCluster(t, dbtest.Postgres(t), 2, map[string]string{
		"GATEHOUSE_ISSUER":                "http://gatehouse.test",
		"GATEHOUSE_KEY_REFRESH_INTERVAL":  "1s",
		"GATEHOUSE_KEY_ACTIVATION_DELAY":  "1s",
		"GATEHOUSE_KEY_ROTATION_INTERVAL": interval.String(),
	}).Nodes
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(45 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 45 s", what)
			}
		}
	}
	// Every 4 s, with ID tokens that live an hour: each instance warns at start that
	// the JWKS will hold many keys.
	for _, s := range nodes {
		if want := `level=WARN msg="the key rotation interval keeps many keys in the JWKS" variable=GATEHOUSE_KEY_ROTATION_INTERVAL interval=4s keys_per_algorithm=901`; !strings.Contains(s.Log(), want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	var holder, other *Server
	waitFor("a first scheduled rotation", func() bool {
		for i, s := range nodes {
			if len(rotationsLogged(s)) > 0 {
				holder, other = s, nodes[1-i]
				return true
			}
		}
		return false
	})
	holder.Stop(t) // SIGTERM: it gives its lease up
	byHolder := rotationsLogged(holder)
	waitFor("two rotations by the other instance", func() bool { return len(rotationsLogged(other)) >= 2 })

	var keys []keyListRow
	other.CLIJSON(t, &keys, "", "keys", "list")
	var es []keyListRow
	for _, k := range keys {
		if k.Alg == "ES256" {
			es = append(es, k)
		}
	}
	slices.SortFunc(es, func(x, y keyListRow) int { return x.CreatedAt.Compare(y.CreatedAt) })
	// The request log is written in batches (at least every 100 ms): a rotation that
	// made a key just before the list may not be in the log yet. Wait for it a little.
	var logged []string
	waitFor("every listed key in a log", func() bool {
		logged = append(slices.Clone(byHolder), rotationsLogged(other)...)
		for _, k := range es[1:] {
			if !slices.Contains(logged, k.KID) {
				return false
			}
		}
		return true
	})
	// Every key but the first start's was made by exactly one logged rotation.
	if len(es) != len(logged)+1 {
		t.Errorf("%d ES256 keys, %d rotations logged: %v", len(es), len(logged), logged)
	}
	for i, k := range es[1:] {
		if !slices.Contains(logged, k.KID) {
			t.Errorf("key %s was not made by a logged rotation", k.KID)
		}
		gap := k.CreatedAt.Sub(es[i].CreatedAt)
		// Never two rotations within an interval; each comes within a few ticks of
		// being due (generous: the machine may be loaded).
		if gap < interval || gap > interval+6*time.Second {
			t.Errorf("keys %d and %d made %s apart, want once per %s", i, i+1, gap, interval)
		}
		if d := k.ActivatesAt.Sub(k.CreatedAt); d != time.Second {
			t.Errorf("scheduled key %s activates %s after its creation, want the 1 s delay", k.KID, d)
		}
		if es[i].RetiredAt == nil || !es[i].RetiredAt.Equal(k.ActivatesAt) {
			t.Errorf("key %d retires at %v, want its successor's activation %v", i, es[i].RetiredAt, k.ActivatesAt)
		}
	}
	var states []string
	for _, k := range es {
		states = append(states, k.State)
	}
	if n := strings.Count(strings.Join(states, ","), "active"); n != 1 {
		t.Errorf("ES256 key states %v: want exactly one active", states)
	}
	b, _ := json.Marshal(states)
	t.Logf("%d ES256 keys (%s): %d rotations by the first holder, %d by the other", len(es), b, len(byHolder), len(logged)-len(byHolder))
}
