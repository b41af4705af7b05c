package domain

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is a person who logs in. Its ID is the `sub` of every token issued for it.
type User struct {
	ID            string
	Username      string
	Email         string
	EmailVerified bool
	PasswordHash  string
	// Disabled users cannot sign in, and none of their tokens, codes or sessions
	// work (PrincipalRevocation).
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Password length bounds; the upper one keeps hashing cost bounded.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// NormalizeUsername folds a username to the form it is stored and looked up in: lower
// case, so "Alice" and "alice" cannot be two accounts that look alike.
func NormalizeUsername(u string) string { return strings.ToLower(strings.TrimSpace(u)) }

// NormalizeEmail folds an email address for storage and comparison.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// ValidateUsername: 1 to 64 characters, letters, digits and . _ - @ only.
func ValidateUsername(u string) error {
	if u == "" || utf8.RuneCountInString(u) > 64 {
		return fmt.Errorf("username must be 1 to 64 characters")
	}
	for _, r := range u {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@+", r)) {
			return fmt.Errorf("username may contain only letters, digits and . _ - @ +")
		}
	}
	return nil
}

// ValidateEmail accepts an empty email (optional) or one plain address.
func ValidateEmail(e string) error {
	if e == "" {
		return nil
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return fmt.Errorf("email %q is not a valid address", e)
	}
	return nil
}

// ValidatePassword: 8 to 128 characters, not the username, valid UTF-8, no NUL.
func ValidatePassword(password, username string) error {
	if !utf8.ValidString(password) || strings.ContainsRune(password, 0) {
		return fmt.Errorf("password must be valid text")
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength || n > MaxPasswordLength {
		return fmt.Errorf("password must be %d to %d characters", MinPasswordLength, MaxPasswordLength)
	}
	if username != "" && strings.EqualFold(password, username) {
		return fmt.Errorf("password must not be the username")
	}
	return nil
}
