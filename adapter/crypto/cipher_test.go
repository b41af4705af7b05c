package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func newTestCipher(t *testing.T, secret string) *Cipher {
	t.Helper()
	k, err := DeriveKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewKeyCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCipher_RoundTrip(t *testing.T) {
	c := newTestCipher(t, testSecret)
	pt := []byte("-----PRIVATE KEY----- pretend DER")
	ad := []byte("kid-1")
	ct1, err := c.Seal(pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	ct2, err := c.Seal(pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ct1, ct2) {
		t.Fatal("two seals of one plaintext are equal: the nonce is not random")
	}
	if bytes.Contains(ct1, pt) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := c.Open(ct1, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v; want the plaintext", got, err)
	}
	// Empty plaintext works too.
	ct, _ := c.Seal(nil, ad)
	if got, err := c.Open(ct, ad); err != nil || len(got) != 0 {
		t.Fatalf("Open(empty) = %q, %v", got, err)
	}
}

func TestCipher_WrongKeyFails(t *testing.T) {
	ct, err := newTestCipher(t, testSecret).Seal([]byte("secret"), []byte("kid"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTestCipher(t, testSecret+"2").Open(ct, []byte("kid")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Open with another key: err = %v, want ErrDecrypt", err)
	}
}

func TestCipher_WrongAssociatedDataFails(t *testing.T) {
	c := newTestCipher(t, testSecret)
	ct, _ := c.Seal([]byte("secret"), []byte("kid-1"))
	for _, ad := range [][]byte{[]byte("kid-2"), nil, []byte("kid-1 ")} {
		if _, err := c.Open(ct, ad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Open with ad %q: err = %v, want ErrDecrypt (a ciphertext moved to another key row must not open)", ad, err)
		}
	}
}

func TestCipher_TamperingFails(t *testing.T) {
	c := newTestCipher(t, testSecret)
	ad := []byte("kid")
	ct, _ := c.Seal([]byte("a private key of some length"), ad)
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		if _, err := c.Open(bad, ad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("flipped byte %d: err = %v, want ErrDecrypt", i, err)
		}
	}
	for _, bad := range [][]byte{nil, ct[:1], ct[:12], ct[:len(ct)-1], append(bytes.Clone(ct), 0)} {
		if _, err := c.Open(bad, ad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("truncated/extended ciphertext (%d bytes): err = %v, want ErrDecrypt", len(bad), err)
		}
	}
}

func TestNewCipher_KeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewCipher(make([]byte, n)); err == nil {
			t.Fatalf("NewCipher accepted a %d-byte key; want only 32 (AES-256)", n)
		}
	}
}
