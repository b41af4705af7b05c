package crypto

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"gatehouse/usecase"
)

var _ usecase.Random = Random{}

// Random makes identifiers and secrets from crypto/rand. The zero value is ready.
type Random struct{}

// NewRandom returns a Random (a constructor for Wire).
func NewRandom() Random { return Random{} }

// lowerBase32 is RFC 4648 base32 in lower case without padding: client ids are
// typed and compared by people, and lower case reads better in URLs.
var lowerBase32 = base32.NewEncoding(strings.ToLower("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")).WithPadding(base32.NoPadding)

// read fills b from crypto/rand. Since Go 1.24 rand.Read never fails (it
// crashes the program instead), but a failure must never yield a predictable
// value, so it is checked anyway.
func read(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
}

// Token returns 256 random bits, base64url without padding (43 characters), for
// codes, refresh tokens and client secrets (SECURITY S18).
func (Random) Token() string {
	var b [32]byte
	read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID returns 128 random bits, base64url without padding (22 characters), for
// jti, family and session ids.
func (Random) ID() string {
	var b [16]byte
	read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// FamilyID returns 128 bits, 22 characters: the time in milliseconds (48 bits) then 80
// random bits, in base64url's 64 characters taken in ASCII order, so that ids compare
// as strings in the order they were made (to the millisecond) and a new family goes to
// the end of the indexes on token_families(id) and refresh_tokens(family_id). With
// random ids each code exchange dirtied a random page of both: about 12 page writes
// per exchange on SQLite (WAL and checkpoint) instead of about 7.5.
func (Random) FamilyID() string {
	return familyID(time.Now())
}

func familyID(now time.Time) string { return timeLedRandom(now, 10) }

// timeLedRandom is TimeLed of now and n (at most 32) random bytes.
func timeLedRandom(now time.Time, n int) string {
	var b [32]byte
	read(b[:n])
	return TimeLed(now, b[:n])
}

// TimeLed writes the time t in milliseconds (6 bytes, big-endian) followed by rest,
// in sortedBase64, so that what it writes compares as strings in the order of t: the
// shape of family ids and sorted tokens (the benchmark's loader makes rows of the
// server's shape with it).
func TimeLed(t time.Time, rest []byte) string {
	var buf [6 + 32]byte
	b := append(buf[:0], 0, 0, 0, 0, 0, 0)
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	return sortedBase64.EncodeToString(append(b, rest...))
}

// SortedTokenLength is the length of a token made by SortedToken.
const SortedTokenLength = 51

// SortedToken returns 304 bits, 51 characters: the time in milliseconds (48 bits) then
// 256 random bits, in sortedBase64 like FamilyID, for refresh tokens and codes. Their
// keys (SecretHasher.HashToken) keep the first 8 characters, the time, before the
// hash, so that a new token goes to the end of its table's primary-key index instead
// of to a random page of it, as FamilyID does for families.
func (Random) SortedToken() string {
	return sortedToken(time.Now())
}

func sortedToken(now time.Time) string { return timeLedRandom(now, 32) }

// sortedBase64 is base64url's alphabet in ASCII order: encoded strings compare like
// the bytes they encode.
var sortedBase64 = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// UserID returns a random (version 4) UUID in its canonical 36-character form
// (RFC 9562 §5.4).
func (Random) UserID() string {
	var b [16]byte
	read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// ClientIDLength is the length of a client id made by ClientID.
const ClientIDLength = 26

// ClientID returns 128 random bits as 26 lower-case base32 characters, no dashes.
//
// Why this format: a client's `sub` (client credentials) is its client id and a
// user's `sub` is its user id, and the two must never be equal (SECURITY S26). User
// ids are UUIDs; every textual UUID form a parser accepts has 32 (hex), 36
// (canonical), 38 ({…}) or 45 (urn:uuid:…) characters, while a client id always has
// exactly 26 and no dashes, so no client id can ever be read as, or be equal to, a
// user id. Keep this true if either format changes.
func (Random) ClientID() string {
	var b [16]byte
	read(b[:])
	return lowerBase32.EncodeToString(b[:])
}
