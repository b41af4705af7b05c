package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestBrandSettings (issue 25): the brand and the templates directory are empty by
// default; a colour that is not #rgb or #rrggbb, a logo that is neither https nor a
// path here, or a templates directory that is not one stops start-up naming the
// variable.
func TestBrandSettings(t *testing.T) {
	c, err := Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.BrandName != "" || c.BrandLogoURL != "" || c.BrandColor != "" || c.TemplatesDir != "" {
		t.Fatalf("defaults: %q %q %q %q", c.BrandName, c.BrandLogoURL, c.BrandColor, c.TemplatesDir)
	}
	dir := t.TempDir()
	c, err = Load("", envOf(map[string]string{"GATEHOUSE_BRAND_NAME": "Acme ID", "GATEHOUSE_BRAND_COLOR": "#0A7d33",
		"GATEHOUSE_BRAND_LOGO_URL": "https://cdn.acme.example/logo.svg", "GATEHOUSE_TEMPLATES_DIR": dir}))
	if err != nil || c.BrandName != "Acme ID" || c.BrandColor != "#0A7d33" || c.BrandLogoURL != "https://cdn.acme.example/logo.svg" || c.TemplatesDir != dir {
		t.Fatalf("set: %+v, %v", c, err)
	}
	for _, v := range []string{"#abc", "#A0B1C2"} {
		if _, err := Load("", envOf(map[string]string{"GATEHOUSE_BRAND_COLOR": v})); err != nil {
			t.Errorf("GATEHOUSE_BRAND_COLOR=%q: %v", v, err)
		}
	}
	if _, err := Load("", envOf(map[string]string{"GATEHOUSE_BRAND_LOGO_URL": "/static/favicon.svg"})); err != nil {
		t.Errorf("a logo path: %v", err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ variable, value string }{
		{"GATEHOUSE_BRAND_COLOR", "red"},
		{"GATEHOUSE_BRAND_COLOR", "#12345"},
		{"GATEHOUSE_BRAND_COLOR", "#1234567"},
		{"GATEHOUSE_BRAND_COLOR", "#ggg"},
		{"GATEHOUSE_BRAND_COLOR", "#fff;background:url(x)"},
		{"GATEHOUSE_BRAND_LOGO_URL", "http://cdn.acme.example/logo.svg"},
		{"GATEHOUSE_BRAND_LOGO_URL", "//cdn.acme.example/logo.svg"},
		{"GATEHOUSE_BRAND_LOGO_URL", "javascript:alert(1)"},
		{"GATEHOUSE_BRAND_LOGO_URL", "logo.svg"},
		{"GATEHOUSE_BRAND_LOGO_URL", "https://"},
		{"GATEHOUSE_BRAND_LOGO_URL", "https://a.example'; script-src *"},
		{"GATEHOUSE_TEMPLATES_DIR", filepath.Join(dir, "missing")},
		{"GATEHOUSE_TEMPLATES_DIR", file},
	} {
		_, err := Load("", envOf(map[string]string{tc.variable: tc.value}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != tc.variable {
			t.Errorf("%s=%q: %v, want an error naming it", tc.variable, tc.value, err)
		}
	}
}
