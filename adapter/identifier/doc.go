// Package identifier turns what people type as usernames and email addresses into
// the forms Gatehouse stores and compares (SECURITY S49): usernames by the PRECIS
// UsernameCaseMapped profile of RFC 8265 (golang.org/x/text/secure/precis), emails by
// width folding, NFC and lower case. It fills usecase.Identifiers; the rules that
// need no Unicode tables beyond the standard library's (length, characters, one
// script) are domain.ValidateUsername's.
package identifier
