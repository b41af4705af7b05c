package domain

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // zoneinfo is checked against the IANA database, whatever the host has
	"unicode"
	"unicode/utf8"
)

// User is a person who logs in. Its ID is the `sub` of every token issued for it.
type User struct {
	ID            string
	Username      string
	Email         string
	EmailVerified bool
	// ClaimedEmail is the address given at sign-up when another account held it
	// (Email is then ""): the user is shown it, unverified, as if it were theirs,
	// so that sign-up does not tell whether an address has an account (SECURITY
	// S48). It is never verified, mailed, signed in with or matched while another
	// account holds it; once none does, asking for a verification mail makes it
	// the user's Email (Accounts.ResendVerification).
	ClaimedEmail string
	PasswordHash string
	// Disabled users cannot sign in, and none of their tokens, codes or sessions
	// work (PrincipalRevocation).
	Disabled  bool
	CreatedAt time.Time
	// UpdatedAt is the claim updated_at: any change of the user bumps it.
	UpdatedAt time.Time
	// The profile: standard claims of OpenID Connect Core §5.1, "" when not set.
	Profile
	PhoneNumberVerified bool
	// Groups are the names of the user's groups (the groups claim): unique, sorted.
	Groups []string
}

// ShownEmail is the address the user is shown, and tokens carry: Email, or
// while the user has none, ClaimedEmail (never verified).
func (u User) ShownEmail() string {
	if u.Email != "" {
		return u.Email
	}
	return u.ClaimedEmail
}

// Profile is what a user may say about themselves (on /account) or an operator about
// them: OpenID Connect Core §5.1 standard claims, each "" when not set.
type Profile struct {
	Name       string
	GivenName  string
	FamilyName string
	// Picture is an http or https URL.
	Picture string
	// Locale is a BCP 47 language tag: en-US, fr, zh-Hant-TW.
	Locale string
	// Zoneinfo is an IANA time zone name: Europe/Paris, America/Los_Angeles.
	Zoneinfo string
	// PhoneNumber is in E.164 form: + and 4 to 15 digits.
	PhoneNumber string
}

// Profile bounds.
const (
	MaxNameLength    = 200  // characters of name, given_name, family_name
	MaxPictureLength = 2000 // bytes of the picture URL, as redirect URIs
	MaxGroupLength   = 64   // characters of a group name
	MaxUserGroups    = 100  // groups of one user: each goes into tokens
)

// ProfileProblem is one bad field of a profile: Field is its claim name.
type ProfileProblem struct {
	Field string
	Err   error
}

// ProfileProblems checks every field of p and returns the bad ones in the order of
// the profile's fields (a form shows them all at once); none when p is valid.
func ProfileProblems(p Profile) []ProfileProblem {
	var bad []ProfileProblem
	for _, f := range []struct {
		field, value string
		check        func(string) error
	}{
		{"name", p.Name, validateName}, {"given_name", p.GivenName, validateName},
		{"family_name", p.FamilyName, validateName}, {"picture", p.Picture, ValidatePicture},
		{"locale", p.Locale, ValidateLocale}, {"zoneinfo", p.Zoneinfo, ValidateZoneinfo},
		{"phone_number", p.PhoneNumber, ValidatePhoneNumber},
	} {
		if f.value == "" {
			continue
		}
		if err := f.check(f.value); err != nil {
			bad = append(bad, ProfileProblem{Field: f.field, Err: fmt.Errorf("%s: %w", strings.ReplaceAll(f.field, "_", " "), err)})
		}
	}
	return bad
}

// ValidateProfile checks every field of p; field is the claim name of the first bad one.
func ValidateProfile(p Profile) (field string, err error) {
	if bad := ProfileProblems(p); len(bad) > 0 {
		return bad[0].Field, bad[0].Err
	}
	return "", nil
}

// validateName: printable text of at most MaxNameLength characters, no leading or
// trailing space.
func validateName(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxNameLength {
		return fmt.Errorf("must be text of at most %d characters", MaxNameLength)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return fmt.Errorf("must not contain control or invisible characters")
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("must not start or end with a space")
	}
	return nil
}

// ValidatePicture: an absolute http or https URL with a host, no user info, at most
// MaxPictureLength bytes.
func ValidatePicture(s string) error {
	u, err := url.Parse(s)
	switch {
	case len(s) > MaxPictureLength:
		return fmt.Errorf("must be at most %d characters", MaxPictureLength)
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "":
		return fmt.Errorf("must be an http or https URL, like https://example.com/me.png")
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("must not contain spaces or control characters")
	}
	return nil
}

// ValidateLocale: a BCP 47 language tag in its usual shape (RFC 5646 §2.1): a
// language of 2 or 3 letters, then subtags of 1 to 8 letters or digits, separated
// by hyphens; at most 35 characters. "en-US", "fr", "zh-Hant-TW", "de-CH-1996".
func ValidateLocale(s string) error {
	bad := fmt.Errorf("must be a language tag like en-US or fr")
	if len(s) > 35 {
		return bad
	}
	for i, sub := range strings.Split(s, "-") {
		if sub == "" || len(sub) > 8 || (i == 0 && (len(sub) < 2 || len(sub) > 3)) {
			return bad
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
			if !(letter || i > 0 && '0' <= c && c <= '9') {
				return bad
			}
		}
	}
	return nil
}

// ValidateZoneinfo: an IANA time zone name that the time zone database knows
// (Europe/Paris, America/Argentina/Buenos_Aires, UTC). Local, paths and other
// names are refused.
func ValidateZoneinfo(s string) error {
	bad := fmt.Errorf("must be an IANA time zone like Europe/Paris")
	if len(s) > 64 || s == "Local" {
		return bad
	}
	for i, part := range strings.Split(s, "/") {
		if part == "" || (i == 0 && !('A' <= part[0] && part[0] <= 'Z')) {
			return bad
		}
		for j := 0; j < len(part); j++ {
			c := part[j]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '+') {
				return bad
			}
		}
	}
	if _, err := time.LoadLocation(s); err != nil {
		return bad
	}
	return nil
}

// ValidatePhoneNumber: E.164, a + and 4 to 15 digits, the first not 0 (+14155550100).
func ValidatePhoneNumber(s string) error {
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) < 4 || len(digits) > 15 || digits[0] == '0' ||
		strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		return fmt.Errorf("must be in E.164 form: + and 4 to 15 digits, like +14155550100")
	}
	return nil
}

// ValidateGroupName: 1 to MaxGroupLength letters, digits and . _ - :
// ("admins", "team:platform", "eng.backend").
func ValidateGroupName(g string) error {
	if g == "" || utf8.RuneCountInString(g) > MaxGroupLength {
		return fmt.Errorf("group name %q must be 1 to %d characters", g, MaxGroupLength)
	}
	for _, r := range g {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-:", r)) {
			return fmt.Errorf("group name %q may contain only letters, digits and . _ - :", g)
		}
	}
	return nil
}

// NormalizeGroups validates each name and returns the set sorted, without
// duplicates; nil for none. At most MaxUserGroups.
func NormalizeGroups(groups []string) ([]string, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if err := ValidateGroupName(g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxUserGroups {
		return nil, fmt.Errorf("a user may be in at most %d groups", MaxUserGroups)
	}
	return out, nil
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
// fine, but not "сосо", all Cyrillic letters drawn like Latin ones (readsAsLatin).
// Names stored before these rules stay valid for sign-in: lookups only canonicalize.
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
	if readsAsLatin(u) {
		return ErrUsernameReadsAsLatin
	}
	if looksLikeUserID(u) {
		return ErrUsernameLooksLikeID
	}
	return nil
}

// ErrUsernameLooksLikeID: the username has the form of a user id (a UUID, as every
// user id is). Administrators find users by id or username, and ids are visible to
// others (the sub of every token): a username in that form could stand for another
// user's id.
var ErrUsernameLooksLikeID = errors.New("username may not have the form of a user id (8-4-4-4-12 hexadecimal digits)")

// looksLikeUserID says whether u is a UUID in its canonical textual form, the form of
// user ids, in either case.
func looksLikeUserID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ErrUsernameReadsAsLatin: every letter of the username is a Cyrillic or Greek one
// drawn like a Latin letter, so it reads as a Latin name ("сосо" as "coco").
var ErrUsernameReadsAsLatin = errors.New("username reads as a name in Latin letters: use letters that do not look like Latin ones")

// latinLookalikes are the lower-case Cyrillic and Greek letters drawn like a Latin
// one (usernames are case-folded), after Unicode TR39's confusables.
const latinLookalikes = "асеорхуіјѕԁԛԝһӏүѵԍ" + "οαρνιυκχ"

// readsAsLatin reports whether u, of one script (mixedScripts), is a whole-script
// confusable of a Latin name (Unicode TR39 §4): it has letters, every one of them a
// latinLookalike. Names with any other letter of their script ("саша", "αλίκη") do
// not read as Latin.
func readsAsLatin(u string) bool {
	letters := 0
	for _, r := range u {
		if !unicode.IsLetter(r) {
			continue
		}
		if !strings.ContainsRune(latinLookalikes, r) {
			return false
		}
		letters++
	}
	return letters > 0
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

// ValidateEmail accepts an empty email (optional) or one plain address: what a
// lookup (forgot-password) takes, so that an address stored before
// ValidateNewEmail's rules still finds its account.
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

// ValidateNewEmail is ValidateEmail for an address being given to an account: one
// that would be drawn like another is refused as invalid too (SECURITY S49): with an
// invisible character (a zero-width space, a joiner, a variation selector), or whose
// local part or a label of whose domain mixes writing systems ("аlice" with a
// Cyrillic а, "exаmple.com") or is written wholly in Cyrillic or Greek letters drawn
// like Latin ones ("сосо", as usernames). No mailbox needs either, and shown on
// /account, the console or in an email claim each would pass for someone else's.
func ValidateNewEmail(e string) error {
	if err := ValidateEmail(e); err != nil || e == "" {
		return err
	}
	invalid := fmt.Errorf("email %q is not a valid address", e)
	for _, r := range e {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zs, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return invalid
		}
	}
	at := strings.LastIndexByte(e, '@')
	for _, part := range append([]string{e[:at]}, strings.Split(e[at+1:], ".")...) {
		if _, _, mixed := mixedScripts(part); mixed || readsAsLatin(part) {
			return invalid
		}
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
