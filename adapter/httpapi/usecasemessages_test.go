package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestUseCaseMessages_StillSaidByTheUseCases: a page translates a use case's message
// by its English text (useCaseMessages), so a message reworded in a use case would
// silently fall back to English. Every text translated here must still be written in
// the use cases, the domain or this package's handlers, whole or as a format whose
// verbs (%d, %s, %q, %v) it fills, and every pattern's fixed words too.
func TestUseCaseMessages_StillSaidByTheUseCases(t *testing.T) {
	var literals []string
	for _, dir := range []string{"../../usecase", "../../domain", "../upstream", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "languages.go" {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						literals = append(literals, s)
					}
				}
				return true
			})
		}
	}
	verb := regexp.MustCompile(`%[dsqv]`)
	said := func(text string) bool {
		for _, l := range literals {
			if strings.Contains(l, text) {
				return true
			}
			// A format says text when text is the format filled in, and the format
			// has words of its own (not "%s: %v").
			if parts := verb.Split(l, -1); len(parts) > 1 && len(strings.Join(parts, "")) >= 8 {
				for i := range parts {
					parts[i] = regexp.QuoteMeta(parts[i])
				}
				if regexp.MustCompile("^" + strings.Join(parts, ".+") + "$").MatchString(text) {
					return true
				}
			}
		}
		return false
	}
	for msg, key := range useCaseMessages {
		if !said(msg) {
			t.Errorf("%s translates %q, which no use case or domain message says any more", key, msg)
		}
	}
	for _, fixed := range []string{`is not a valid address`, "must be text of at most", "must not contain control or invisible characters",
		"must not start or end with a space", "must be an http or https URL", "must not contain spaces or control characters",
		"must be a language tag", "must be an IANA time zone", "must be in E.164 form",
		" account is already linked to another account here", "its ID token did not verify (%s)",
		"its token endpoint refused the code (%s)", "its token endpoint answered HTTP %d", "its API did not give the user (%w)",
		"its discovery document at %s could not be read or does not match the issuer", "its type %q is unknown", "it answered "} {
		if !said(fixed) {
			t.Errorf("a pattern translates messages with %q, which no use case or domain message says any more", fixed)
		}
	}
}

// TestClientProblems_EveryRuleTranslated: every refusal of the client rules
// (domain.FieldError in domain/client.go) that the console's client form can meet has
// its catalog key in clientProblems, and every key there is still a refusal the rules
// give, so a rule added or reworded without its translation fails here. The refusals
// about private_key_jwt's keys are left out: the console does not set them.
func TestClientProblems_EveryRuleTranslated(t *testing.T) {
	src, err := os.ReadFile("../../domain/client.go")
	if err != nil {
		t.Fatal(err)
	}
	file, err := parser.ParseFile(token.NewFileSet(), "client.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	// lastString is the last string literal of a concatenation: what follows the
	// address in what+" %q"+problem, or the problem itself.
	var lastString func(e ast.Expr) (string, bool)
	lastString = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			s, err := strconv.Unquote(e.Value)
			return s, err == nil && e.Kind == token.STRING
		case *ast.BinaryExpr:
			return lastString(e.Y)
		}
		return "", false
	}
	given := map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		fn, ok := call.Fun.(*ast.Ident)
		switch {
		case !ok:
		case fn.Name == "fieldError" && len(call.Args) >= 2:
			if s, ok := lastString(call.Args[1]); ok {
				given[s] = true
			}
		case fn.Name == "bad" && len(call.Args) == 1:
			if s, ok := lastString(call.Args[0]); ok {
				given[s] = true
			}
		}
		return true
	})
	if len(given) < 20 {
		t.Fatalf("found %d refusals in domain/client.go; the parse no longer finds them", len(given))
	}
	for problem := range given {
		if strings.Contains(problem, "jwks") || strings.Contains(problem, "private_key_jwt") || strings.Contains(problem, "JWK Set") {
			continue
		}
		if _, ok := clientProblems[problem]; !ok {
			t.Errorf("the client rule's refusal %q has no catalog key in clientProblems", problem)
		}
	}
	for problem, key := range clientProblems {
		if !given[problem] {
			t.Errorf("%s translates %q, which no client rule says any more", key, problem)
		}
	}
}
