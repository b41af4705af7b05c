package main

import (
	"gatehouse/adapter/crypto"
	"gatehouse/adapter/httpapi"
	"gatehouse/infrastructure/config"
)

// providePageConfig gives the pages the issuer (https makes cookies Secure and
// __Host-), the registration switch, the cookie-signing key for CSRF tokens, and the
// brand and template overrides (issue 25).
func providePageConfig(cfg config.Config, keys crypto.Keys) httpapi.PageConfig {
	return httpapi.PageConfig{Issuer: cfg.Issuer, RegistrationEnabled: cfg.RegistrationEnabled, CSRFKey: keys.CookieSigning,
		Brand:        httpapi.Brand{Name: cfg.BrandName, LogoURL: cfg.BrandLogoURL, Color: cfg.BrandColor},
		TemplatesDir: cfg.TemplatesDir}
}
