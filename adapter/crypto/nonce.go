package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"gatehouse/usecase"
)

// DPoPNonceWindow is how long one DPoP server nonce is issued; a nonce is accepted
// during its window and the next, so for one to two windows.
const DPoPNonceWindow = 5 * time.Minute

// DPoPNonces makes stateless DPoP server nonces (RFC 9449 §8): the window number and
// an HMAC of it under a key derived from GATEHOUSE_SECRET_KEY. Nothing is stored, and
// every instance sharing the secret accepts every other's nonces. A nonce limits how
// long a proof can be pre-made; the jti replay store still makes each proof single-use.
type DPoPNonces struct {
	key []byte
}

var _ usecase.DPoPNonces = (*DPoPNonces)(nil)

// NewDPoPNonces returns the nonce source for keys.
func NewDPoPNonces(keys Keys) *DPoPNonces { return &DPoPNonces{key: keys.DPoPNonce} }

func (n *DPoPNonces) mac(window uint64) []byte {
	var w [8]byte
	binary.BigEndian.PutUint64(w[:], window)
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("dpop-nonce"))
	m.Write(w[:])
	return append(w[:], m.Sum(nil)[:16]...)
}

func window(now time.Time) uint64 { return uint64(now.Unix() / int64(DPoPNonceWindow/time.Second)) }

// Nonce returns the nonce of now's window.
func (n *DPoPNonces) Nonce(now time.Time) string {
	return base64.RawURLEncoding.EncodeToString(n.mac(window(now)))
}

// ValidNonce accepts the nonces of now's window and the one before.
func (n *DPoPNonces) ValidNonce(nonce string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false
	}
	w := binary.BigEndian.Uint64(b[:8])
	cur := window(now)
	if w != cur && w+1 != cur {
		return false
	}
	return hmac.Equal(b, n.mac(w))
}
