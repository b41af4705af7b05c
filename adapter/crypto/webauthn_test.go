package crypto

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"

	"gatehouse/usecase"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// TestBoundedKey: a passkey's RSA key has from 2048 to 8192 bits (each sign-in is
// verified with it, at a cost growing with the square of its size, and Go refuses to
// verify with one under 1024 bits); authenticators' RSA and EC keys pass, and bytes
// that are no COSE key are refused.
func TestBoundedKey(t *testing.T) {
	rsaKey := func(bits int) []byte {
		n := make([]byte, (bits+7)/8)
		_, _ = rand.Read(n)
		n[0] |= 0x80 >> ((8 - bits%8) % 8)
		n[0] &= 0xff >> ((8 - bits%8) % 8)
		b, err := webauthncbor.Marshal(webauthncose.RSAPublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.RSAKey), Algorithm: int64(webauthncose.AlgRS256)},
			Modulus:       n, Exponent: []byte{1, 0, 1}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pt, _ := ec.PublicKey.Bytes()
	ecKey, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: pt[1:33], YCoord: pt[33:]})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  []byte
		ok   bool
	}{
		{"RSA1", rsaKey(1), false},
		{"RSA512", rsaKey(512), false},
		{"RSA2047", rsaKey(2047), false},
		{"RSA2048", rsaKey(2048), true},
		{"RSA8192", rsaKey(8192), true},
		{"RSA8193", rsaKey(8193), false},
		{"RSA32768", rsaKey(32768), false},
		{"EC", ecKey, true},
		{"NotCOSE", []byte("not a key"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := boundedKey(tc.key); (err == nil) != tc.ok {
				t.Fatalf("boundedKey: %v, want accepted %v", err, tc.ok)
			}
		})
	}
}

// TestRelyingPartyName: the passkey's relying party (shown by browsers and password
// managers beside the passkey) is named by the brand name, else "Gatehouse"; its id is
// the issuer's host.
func TestRelyingPartyName(t *testing.T) {
	for brand, want := range map[string]string{"": "Gatehouse", "  Acme ID ": "Acme ID"} {
		w := NewWebAuthn(usecase.MFASettings{Issuer: "https://id.example.com", Name: brand})
		c, err := w.BeginRegistration(usecase.PasskeyUser{ID: "u1", Name: "ada", DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		var opts struct {
			PublicKey struct {
				RP struct{ ID, Name string }
			}
		}
		if err := json.Unmarshal(c.Options, &opts); err != nil {
			t.Fatalf("options %s: %v", c.Options, err)
		}
		if opts.PublicKey.RP.Name != want || opts.PublicKey.RP.ID != "id.example.com" {
			t.Errorf("brand %q: relying party %+v, want %q at id.example.com", brand, opts.PublicKey.RP, want)
		}
	}
}
