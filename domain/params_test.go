package domain

import (
	"strings"
	"testing"
)

func TestCheckParam(t *testing.T) {
	cases := []struct {
		name  string
		len   int
		ok    bool
		limit int
	}{
		{"scope", MaxParamBytes, true, MaxParamBytes},
		{"scope", MaxParamBytes + 1, false, MaxParamBytes},
		{"state", MaxParamBytes + 1, false, MaxParamBytes},
		{"an_unknown_one", MaxParamBytes + 1, false, MaxParamBytes},
		{"nonce", MaxNonceBytes, true, MaxNonceBytes},
		{"nonce", MaxNonceBytes + 1, false, MaxNonceBytes},
		{"client_assertion", MaxTokenParamBytes, true, MaxTokenParamBytes},
		{"client_assertion", MaxTokenParamBytes + 1, false, MaxTokenParamBytes},
		{"subject_token", MaxParamBytes + 1, true, MaxTokenParamBytes},
		{"token", MaxTokenParamBytes + 1, false, MaxTokenParamBytes},
		{"id_token_hint", MaxTokenParamBytes + 1, false, MaxTokenParamBytes},
	}
	for _, tc := range cases {
		if got := ParamLimit(tc.name); got != tc.limit {
			t.Errorf("ParamLimit(%s) = %d, want %d", tc.name, got, tc.limit)
		}
		err := CheckParam(tc.name, strings.Repeat("x", tc.len))
		if (err == nil) != tc.ok {
			t.Errorf("CheckParam(%s, %d bytes) = %v", tc.name, tc.len, err)
			continue
		}
		if err != nil && (err.Code != ErrInvalidRequest.Code || !strings.Contains(err.Description, "parameter "+tc.name+" is too long")) {
			t.Errorf("CheckParam(%s): %v, want invalid_request naming it", tc.name, err)
		}
	}
	// A caller-chosen name is shortened and cleaned before it is quoted.
	err := CheckParam("\"evil\\\x00"+strings.Repeat("n", 100), strings.Repeat("x", MaxParamBytes+1))
	if err == nil || strings.ContainsAny(err.Description, "\"\\\x00") || len(err.Description) > 120 {
		t.Errorf("description %q", err.Description)
	}
	if CheckResourceCount(MaxResourceParams) != nil || CheckResourceCount(MaxResourceParams+1) == nil {
		t.Error("CheckResourceCount")
	}
}
