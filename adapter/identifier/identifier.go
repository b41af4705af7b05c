package identifier

import (
	"errors"
	"strings"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"

	"gatehouse/usecase"
)

// Rules are the identifier rules; the zero value is ready, and safe for concurrent use.
type Rules struct{}

var _ usecase.Identifiers = Rules{}

// NewRules returns the rules.
func NewRules() Rules { return Rules{} }

var errNotAUsername = errors.New("username may contain only letters, digits and . _ - @ +")

// CanonicalUsername applies RFC 8265 §3.3 (UsernameCaseMapped) to a username with
// the surrounding white space trimmed: full-width and half-width characters become
// their usual forms (ａlice → alice), letters lower case, the whole NFC, and the
// IdentifierClass of RFC 8264 refuses spaces, symbols, controls and unassigned code
// points; the bidi rule refuses right-to-left text mixed the wrong way. ASCII in lower
// case is left as it is, so every username stored before is still its own canonical
// form.
func (Rules) CanonicalUsername(raw string) (string, error) {
	s, err := precis.UsernameCaseMapped.String(strings.TrimSpace(raw))
	if err != nil {
		return "", errNotAUsername
	}
	return s, nil
}

// CanonicalEmail trims, folds width (ｅxample.com → example.com), composes (NFC) and
// lowers an email address, so that the address a registrant types in full-width
// letters or another Unicode form is the address already registered. It goes no
// further on purpose: the local part is the mail server's to interpret (RFC 5321
// §2.4; we already fold its case, as every large provider does), and an
// internationalized domain is not converted between its Unicode and ASCII (xn--)
// forms, which would need the IDNA tables and a policy on confusable domains: such a
// domain is registered as typed.
func (Rules) CanonicalEmail(raw string) string {
	return strings.ToLower(norm.NFC.String(width.Fold.String(strings.TrimSpace(raw))))
}
