package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"gatehouse/usecase"
)

// TestOpenAPI_ListParameters: the OpenAPI document is valid, and every list of the
// API (a GET answering items and next_cursor, every route the API serves) takes cursor
// and limit as they behave: limit a whole number from 1 to MaxPageSize, cursor a
// string.
func TestOpenAPI_ListParameters(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	lists := map[string]bool{"/clients": true, "/users": true, "/users/{id}/sessions": true, "/users/{id}/consents": true,
		"/users/{id}/identities": true, "/keys": true, "/upstreams": true, "/audit-events": true}
	for path, item := range doc.Paths.Map() {
		op := item.Get
		if op == nil {
			continue
		}
		ok := op.Responses.Status(http.StatusOK)
		if ok == nil || ok.Value.Content.Get("application/json") == nil {
			continue
		}
		schema := ok.Value.Content.Get("application/json").Schema.Value
		if schema.Properties["next_cursor"] == nil {
			if lists[path] {
				t.Errorf("%s: the answer has no next_cursor", path)
			}
			continue
		}
		if !lists[path] {
			t.Errorf("%s answers a page but is not among the lists this test knows", path)
		}
		delete(lists, path)
		cursor, limit := op.Parameters.GetByInAndName("query", "cursor"), op.Parameters.GetByInAndName("query", "limit")
		if cursor == nil || limit == nil {
			t.Errorf("%s: no cursor or limit parameter", path)
			continue
		}
		if !cursor.Schema.Value.Type.Is("string") || !strings.Contains(cursor.Description, "next_cursor") {
			t.Errorf("%s: cursor %+v", path, cursor)
		}
		ls := limit.Schema.Value
		if !ls.Type.Is("integer") || ls.Min == nil || *ls.Min != 1 || ls.Max == nil || *ls.Max != usecase.MaxPageSize ||
			!strings.Contains(limit.Description, fmt.Sprintf("default %d", usecase.DefaultPageSize)) {
			t.Errorf("%s: limit %+v", path, ls)
		}
	}
	for path := range lists {
		t.Errorf("%s: not in the document as a list", path)
	}
}
