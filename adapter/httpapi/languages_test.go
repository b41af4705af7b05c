package httpapi

import (
	"testing"

	"gatehouse/adapter/i18n"
)

// testLanguages are the real catalogs, English by default.
func testLanguages(t testing.TB) Languages {
	t.Helper()
	c, err := i18n.New("en")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
