// Package usecase holds one use case per grant or endpoint (client credentials,
// password, refresh, authorization code, revocation, introspection, admin, keys)
// and declares the ports they need (ports.go). It imports only domain and the
// standard library; adapters fill the ports, cmd/gatehouse wires them with Wire.
package usecase
