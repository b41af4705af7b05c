// Package configs embeds the default configuration, so the binary runs anywhere
// without its source tree.
package configs

import _ "embed"

// Default is configs/gatehouse.yaml as built into the binary.
//
//go:embed gatehouse.yaml
var Default []byte
