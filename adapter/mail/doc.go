// Package mail sends Gatehouse's mails: over SMTP with github.com/wneessen/go-mail
// (STARTTLS when the server offers it, or implicit TLS for smtps://), or, when no
// SMTP server is configured, as RFC 5322 .eml files in a directory, so that a fresh
// `make run` needs no mail server. Both implement usecase.MailTransport.
package mail
