package domain

import (
	"slices"
	"strings"
	"testing"
)

// TestParseClaimsRequest: the claims parameter (OpenID Connect Core §5.5) as parsed,
// its normal form read back to the same request, and what is not a claims request.
func TestParseClaimsRequest(t *testing.T) {
	r, err := ParseClaimsRequest(`{"id_token":{"email":null,"auth_time":{"essential":true},"acr":{"values":["a"]}},` +
		`"userinfo":{"name":{"value":"x"},"groups":{"essential":false,"values":null},"x-custom":null},"other":[1]}`)
	if err != nil {
		t.Fatal(err)
	}
	if r.IDToken != ClaimEmail || r.UserInfo != ClaimName|ClaimGroups {
		t.Fatalf("parsed %v / %v", r.IDToken, r.UserInfo)
	}
	enc := r.Encode()
	if enc != `{"id_token":{"email":null},"userinfo":{"name":null,"groups":null}}` {
		t.Fatalf("Encode = %s", enc)
	}
	if back, err := ParseClaimsRequest(enc); err != nil || back != r {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if (ClaimsRequest{}).Encode() != "" {
		t.Fatal("an empty request encodes as something")
	}
	for _, ok := range []string{``, `{}`, `{"id_token":null}`, `{"userinfo":{}}`, ` {"id_token" : { "email" : null } } `} {
		if _, err := ParseClaimsRequest(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{`{`, `null`, `[]`, `"x"`, `1`, `{"id_token":"email"}`, `{"id_token":["email"]}`,
		`{"userinfo":{"email":true}}`, `{"userinfo":{"email":[]}}`, `{"id_token":{"email":{"essential":1}}}`,
		`{"id_token":{"email":{"values":{}}}}`, `{} {}`} {
		if _, err := ParseClaimsRequest(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	// An essential acr of unknown classes only cannot be met; one that also names a
	// known class, one without values, or a voluntary one can.
	for raw, unmet := range map[string]bool{
		`{"id_token":{"acr":{"essential":true,"value":"urn:x"}}}`:                                                     true,
		`{"userinfo":{"acr":{"essential":true,"values":["urn:x","urn:y"]}}}`:                                          true,
		`{"id_token":{"acr":{"essential":true,"values":["urn:x","` + ACRMFA + `"]}}}`:                                 false,
		`{"id_token":{"acr":{"essential":true}}}`:                                                                     false,
		`{"id_token":{"acr":{"value":"urn:x"}}}`:                                                                      false,
		`{"id_token":{"acr":{"essential":true,"value":"urn:x"}},"userinfo":{"acr":{"essential":true,"value":"phr"}}}`: false,
	} {
		r, err := ParseClaimsRequest(raw)
		if err != nil || r.UnmetACR() != unmet || r.Within(EmailClaims).UnmetACR() != unmet {
			t.Errorf("%s: UnmetACR %v (%v), want %v", raw, r.UnmetACR(), err, unmet)
		}
	}
	if got := (ClaimsRequest{IDToken: ClaimEmail | ClaimPhoneNumber}).Within(EmailClaims); got.IDToken != ClaimEmail {
		t.Errorf("Within = %v", got.IDToken)
	}
	if s := (ClaimsRequest{UserInfo: ClaimPhoneNumber | ClaimName}).Scopes(); len(s) != 2 || s[0] != ScopeProfile || s[1] != ScopePhone {
		t.Errorf("Scopes = %v", s)
	}
	if ParseClaimNames("email nope groups") != ClaimEmail|ClaimGroups || (ClaimEmail|ClaimGroups).String() != "email groups" {
		t.Error("claim names do not round-trip")
	}
}

// TestProfileValidators: what each profile field accepts.
func TestProfileValidators(t *testing.T) {
	for _, tc := range []struct {
		check func(string) error
		good  []string
		bad   []string
	}{
		{ValidatePicture, []string{"https://example.com/a.png", "http://127.0.0.1:8080/x?y=1"},
			[]string{"ftp://example.com/a", "javascript:alert(1)", "https://", "//example.com/a", "https://u:p@example.com/",
				"https://example.com/a b", "data:image/png;base64,AAAA"}},
		{ValidateLocale, []string{"en", "en-US", "zh-Hant-TW", "de-CH-1996", "fil"},
			[]string{"e", "english", "en_US", "en-", "-US", "en-US-abcdefghi", "1n"}},
		{ValidateZoneinfo, []string{"Europe/Paris", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5"},
			[]string{"Local", "Mars/Base", "../etc/passwd", "/etc/localtime", "europe/paris", "Europe//Paris", "Europe/Paris "}},
		{ValidatePhoneNumber, []string{"+14155550100", "+441234567890", "+1234"},
			[]string{"14155550100", "+0123456", "+1 415 555", "+123", "+1234567890123456", "+1415555O100"}},
		{ValidateGroupName, []string{"admins", "team:platform", "eng.back-end_2", "équipe"},
			[]string{"", "a b", "a/b", "a,b", "x\x00"}},
	} {
		for _, s := range tc.good {
			if err := tc.check(s); err != nil {
				t.Errorf("%q refused: %v", s, err)
			}
		}
		for _, s := range tc.bad {
			if tc.check(s) == nil {
				t.Errorf("%q accepted", s)
			}
		}
	}
	if f, err := ValidateProfile(Profile{Name: "ok", Locale: "xx_YY"}); f != "locale" || err == nil {
		t.Errorf("ValidateProfile = %q, %v", f, err)
	}
	// Every bad field is reported, in the profile's order, each with its own message.
	bad := ProfileProblems(Profile{Name: "ok", Picture: "javascript:alert(1)", Locale: "xx_YY", Zoneinfo: "Mars/Olympus",
		PhoneNumber: "555"})
	var got []string
	for _, p := range bad {
		got = append(got, p.Field+" = "+p.Err.Error())
	}
	want := []string{
		"picture = picture: must be an http or https URL, like https://example.com/me.png",
		"locale = locale: must be a language tag like en-US or fr",
		"zoneinfo = zoneinfo: " + ValidateZoneinfo("Mars/Olympus").Error(),
		"phone_number = phone number: " + ValidatePhoneNumber("555").Error(),
	}
	if !slices.Equal(got, want) {
		t.Errorf("ProfileProblems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if bad := ProfileProblems(Profile{Name: "Ada", Locale: "en-GB"}); len(bad) != 0 {
		t.Errorf("ProfileProblems of a valid profile = %v", bad)
	}
}
