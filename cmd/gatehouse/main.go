// Command gatehouse is the Gatehouse OAuth 2.0 / OpenID Connect server and its
// administration CLI. See SPEC.md for the commands; `gatehouse --help` lists them.
package main

import (
	"io"
	"os"

	"gatehouse/infrastructure/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, config.Environ(os.Environ())))
}

// streams are the process's standard streams, passed down so tests can drive the CLI.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}
