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

// ValidateUsername checks a new username, already in its canonical form (PRECIS, see
// usecase.Identifiers): 1 to 64 characters, letters, digits and . _ - @ + only, and
// the letters of one writing system (SECURITY S49). "аlice" with a Cyrillic а reads
// as "alice" and is refused; "алиса" (all Cyrillic) and "山田たろう" (Japanese) are
// fine. Names stored before these rules stay valid for sign-in: lookups only
// canonicalize.
func ValidateUsername(u string) error {
	if u == "" || utf8.RuneCountInString(u) > 64 {
		return fmt.Errorf("username must be 1 to 64 characters")
	}
	for _, r := range u {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@+", r)) {
			return fmt.Errorf("username may contain only letters, digits and . _ - @ +")
		}
	}
	if a, b, mixed := mixedScripts(u); mixed {
		return fmt.Errorf("username mixes %s and %s letters; use the letters of one script", a, b)
	}
	return nil
}

// mixedScripts reports whether the letters and digits of s belong to no single
// writing system, and two scripts that show it. Characters of the Common and
// Inherited scripts (ASCII digits, . _ - @ +, the Japanese prolonged sound mark) go
// with any. A writing system is one script, but for those that share Han: Japanese
// (Han, Hiragana, Katakana), Korean (Han, Hangul) and Chinese (Han, Bopomofo). This
// is the "single script" restriction level of Unicode TR39 §5.2, with its CJK sets.
func mixedScripts(s string) (first, other string, mixed bool) {
	var possible []string // the writing systems every script so far belongs to
	for _, r := range s {
		script := scriptOf(r)
		if script == "" {
			continue
		}
		systems := writingSystems(script)
		if first == "" {
			first, possible = script, systems
			continue
		}
		var both []string
		for _, w := range possible {
			for _, x := range systems {
				if w == x {
					both = append(both, w)
				}
			}
		}
		if len(both) == 0 {
			return first, script, true
		}
		possible = both
	}
	return "", "", false
}

// scriptOf is the Unicode script of r; "" for Common, Inherited and unassigned.
func scriptOf(r rune) string {
	if unicode.Is(unicode.Latin, r) {
		return "Latin"
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			if name == "Common" || name == "Inherited" {
				return ""
			}
			return name
		}
	}
	return ""
}

// writingSystems are the writing systems a script is written in.
func writingSystems(script string) []string {
	switch script {
	case "Han":
		return []string{"Japanese", "Korean", "Chinese"}
	case "Hiragana", "Katakana":
		return []string{"Japanese"}
	case "Hangul":
		return []string{"Korean"}
	case "Bopomofo":
		return []string{"Chinese"}
	}
	return []string{script}
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
