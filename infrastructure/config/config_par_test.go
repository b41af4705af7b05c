package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPARAndRegistrationSettings: PAR and dynamic registration are off (or strict)
// by default; registration on needs an initial access token of 32+ characters.
func TestPARAndRegistrationSettings(t *testing.T) {
	c, err := Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.PARTTL != time.Minute || c.RequirePAR || c.DynamicRegistration || c.RegistrationInitialAccessToken != "" {
		t.Fatalf("defaults: PAR TTL %s, require %v, registration %v", c.PARTTL, c.RequirePAR, c.DynamicRegistration)
	}
	token := strings.Repeat("k", 32)
	c, err = Load("", envOf(map[string]string{"GATEHOUSE_PAR_TTL": "90s", "GATEHOUSE_REQUIRE_PAR": "true",
		"GATEHOUSE_DYNAMIC_REGISTRATION": "true", "GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PARTTL != 90*time.Second || !c.RequirePAR || !c.DynamicRegistration || c.RegistrationInitialAccessToken != token {
		t.Fatalf("overrides not applied: %+v", c)
	}
	for name, env := range map[string]map[string]string{
		"GATEHOUSE_PAR_TTL":                           {"GATEHOUSE_PAR_TTL": "1h"},
		"GATEHOUSE_REQUIRE_PAR":                       {"GATEHOUSE_REQUIRE_PAR": "maybe"},
		"GATEHOUSE_DYNAMIC_REGISTRATION":              {"GATEHOUSE_DYNAMIC_REGISTRATION": "yes please"},
		"GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": {"GATEHOUSE_DYNAMIC_REGISTRATION": "true", "GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": token[1:]},
	} {
		_, err := Load("", envOf(env))
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != name {
			t.Errorf("%v: err %v, want one naming %s", env, err, name)
		}
		if err != nil && strings.Contains(err.Error(), token[1:]) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}

// TestDynamicRegistrationPolicy: the policy's defaults, lists separated by spaces or
// commas, and words that are not printable ASCII refused naming the variable (the
// rules of the words themselves are the use case's, checked by the command).
func TestDynamicRegistrationPolicy(t *testing.T) {
	c, err := Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.DynamicRegistrationScopes, " "); got != "openid profile email offline_access" {
		t.Errorf("default scopes %q", got)
	}
	if got := strings.Join(c.DynamicRegistrationGrantTypes, " "); got != "authorization_code refresh_token client_credentials" {
		t.Errorf("default grant types %q", got)
	}
	c, err = Load("", envOf(map[string]string{"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES": " openid,api:read  api:write ",
		"GATEHOUSE_DYNAMIC_REGISTRATION_GRANT_TYPES": "authorization_code"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.DynamicRegistrationScopes, "|"); got != "openid|api:read|api:write" {
		t.Errorf("scopes %q", got)
	}
	for _, name := range []string{"GATEHOUSE_DYNAMIC_REGISTRATION_SCOPES", "GATEHOUSE_DYNAMIC_REGISTRATION_GRANT_TYPES"} {
		_, err := Load("", envOf(map[string]string{name: "openid caf\u00e9"}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != name {
			t.Errorf("%s with a non-ASCII word: err %v, want one naming it", name, err)
		}
	}
}

// TestDynamicRegistrationOpen: dynamic_registration takes true, false or open; open
// needs no initial access token (but one given must be long enough).
func TestDynamicRegistrationOpen(t *testing.T) {
	c, err := Load("", envOf(map[string]string{"GATEHOUSE_DYNAMIC_REGISTRATION": "open"}))
	if err != nil || !c.DynamicRegistration || !c.DynamicRegistrationOpen {
		t.Fatalf("open: %+v %v", c.DynamicRegistrationOpen, err)
	}
	if _, err := Load("", envOf(map[string]string{"GATEHOUSE_DYNAMIC_REGISTRATION": "open",
		"GATEHOUSE_REGISTRATION_INITIAL_ACCESS_TOKEN": "short"})); err == nil {
		t.Fatal("a short initial access token was accepted")
	}
	if _, err := Load("", envOf(map[string]string{"GATEHOUSE_DYNAMIC_REGISTRATION": "sometimes"})); err == nil ||
		!strings.Contains(err.Error(), "true, false or open") {
		t.Fatalf("bad value: %v", err)
	}
	c, err = Load("", envOf(map[string]string{"GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS": "true",
		"GATEHOUSE_CLIENT_ID_METADATA_ALLOW_LOOPBACK": "true", "GATEHOUSE_OUTBOUND_CA_FILE": "/tmp/ca.pem"}))
	if err != nil || !c.ClientIDMetadataDocuments || !c.ClientIDMetadataAllowLoopback || c.OutboundCAFile != "/tmp/ca.pem" {
		t.Fatalf("metadata documents: %v", err)
	}
	c, err = Load("", envOf(nil))
	if err != nil || c.DynamicRegistration || c.ClientIDMetadataDocuments || c.ClientIDMetadataAllowLoopback {
		t.Fatalf("defaults: %v", err)
	}
}
