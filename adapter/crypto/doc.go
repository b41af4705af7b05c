// Package crypto holds Gatehouse's symmetric and password cryptography:
//
//   - DeriveKeys turns GATEHOUSE_SECRET_KEY into independent purpose keys with
//     HKDF-SHA-256 (RFC 5869), so that one leaked purpose key reveals nothing
//     about the others or the secret itself;
//   - Random makes tokens and identifiers from crypto/rand;
//   - SecretHasher is a keyed fast hash (HMAC-SHA-256) for high-entropy secrets
//     (client secrets, codes, refresh tokens, session cookies): they are stored
//     only as hashes (SECURITY S18), and a slow hash buys nothing for 256 random bits;
//   - PasswordHasher is argon2id (RFC 9106) in the PHC string format, with
//     bcrypt accepted on verification for imported users;
//   - Cipher is AES-256-GCM, used to encrypt private signing keys at rest.
//
// The package fills usecase.Random, usecase.SecretHasher and
// usecase.PasswordHasher; nothing in it ever logs a secret.
package crypto
