package main

import (
	"gatehouse/adapter/crypto"
	"gatehouse/adapter/httpapi"
	"gatehouse/adapter/i18n"
	"gatehouse/infrastructure/config"
)

// providePageConfig gives the pages the issuer (https makes cookies Secure and
// __Host-), the registration switch, the cookie-signing key for CSRF tokens, the
// message catalogs, and the brand and template overrides (issue 25).
func providePageConfig(cfg config.Config, keys crypto.Keys, langs *i18n.Catalog) httpapi.PageConfig {
	return httpapi.PageConfig{Issuer: cfg.Issuer, RegistrationEnabled: cfg.RegistrationEnabled, CSRFKey: keys.CookieSigning,
		Languages:    langs,
		Brand:        httpapi.Brand{Name: cfg.BrandName, LogoURL: cfg.BrandLogoURL, Color: cfg.BrandColor},
		TemplatesDir: cfg.TemplatesDir}
}

// provideLanguages loads the embedded message catalogs of the pages and mails, with
// GATEHOUSE_DEFAULT_LOCALE as their default language.
func provideLanguages(cfg config.Config) (*i18n.Catalog, error) {
	return i18n.New(cfg.DefaultLocale)
}
