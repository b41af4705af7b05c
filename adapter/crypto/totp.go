package crypto

import (
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gatehouse/usecase"
)

// TOTP is RFC 6238 as every authenticator app reads it: SHA-1, 6 digits, 30-second
// steps, a 160-bit secret (RFC 4226 §4 recommends it).
type TOTP struct{}

var _ usecase.TOTP = TOTP{}

// NewTOTP returns the authenticator app algorithm.
func NewTOTP() TOTP { return TOTP{} }

const totpPeriod = 30

func totpOptions() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// NewTOTPSecret makes a random secret (base32, no padding) and its otpauth:// URI,
// otpauth://totp/ISSUER:ACCOUNT?...&issuer=ISSUER. The Key URI format (Google
// Authenticator's, which every app follows) splits the label at its colon and allows
// none in either name; a percent-encoded colon is no better, as apps decode the label
// before they split it. So each colon (with the spaces around it) becomes one space:
// "localhost:8080" would otherwise show as issuer "localhost", account "8080:alice".
func (TOTP) NewTOTPSecret(issuer, account string) (string, string, error) {
	issuer, account = labelPart(issuer), labelPart(account)
	if issuer == "" || account == "" {
		return "", "", errors.New("an authenticator app needs an issuer and an account name other than colons and spaces")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod,
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", err
	}
	return key.Secret(), key.URL(), nil
}

// labelPart is s fit for either side of an otpauth label: no colon, no run of spaces,
// none at either end.
func labelPart(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, ":", " ")), " ")
}

// MatchTOTP returns the step (Unix time / 30) of the code among the current step and
// one on either side (clock drift), or false when it matches none. Each candidate is
// compared in constant time.
func (TOTP) MatchTOTP(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	found, step := 0, int64(0)
	for _, s := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOptions())
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, step = 1, s
		}
	}
	return step, found == 1
}
