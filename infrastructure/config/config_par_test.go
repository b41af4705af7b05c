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
