package domain_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gatehouse/domain"
)

// TestAuditTypesListsEveryType: every dotted string constant of the audit event
// types in audit.go is in domain.AuditTypes (the list `audit list --type` checks),
// so a new event type cannot be recorded yet refused as a filter.
func TestAuditTypesListsEveryType(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "audit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found int
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Values) != 1 || !strings.HasPrefix(spec.Names[0].Name, "Audit") ||
			strings.HasPrefix(spec.Names[0].Name, "AuditReason") || strings.HasPrefix(spec.Names[0].Name, "AuditActor") {
			return true
		}
		lit, ok := spec.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		v, _ := strconv.Unquote(lit.Value)
		found++
		if !slices.Contains(domain.AuditTypes, v) {
			t.Errorf("%s = %q is not in domain.AuditTypes", spec.Names[0].Name, v)
		}
		return true
	})
	if found != len(domain.AuditTypes) {
		t.Errorf("audit.go declares %d event types, AuditTypes lists %d", found, len(domain.AuditTypes))
	}
}
