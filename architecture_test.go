package gatehouse_test

// The dependency rule of ARCHITECTURE.md, enforced: the OAuth rules in domain and
// usecase know nothing of HTTP, SQL or JWT libraries, and adapters never reach into
// each other. Imports are read from the source of every non-test file.

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "gatehouse"

type fileImports struct {
	pkg     string // directory relative to the module root, slash-separated
	file    string
	imports []string
}

func readImports(t *testing.T) []fileImports {
	t.Helper()
	var out []fileImports
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		fi := fileImports{pkg: filepath.ToSlash(filepath.Dir(path)), file: filepath.ToSlash(path)}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			fi.imports = append(fi.imports, p)
		}
		out = append(out, fi)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isStdlib(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".") && first != module
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// adapterRoot names the adapter a package belongs to: adapter/repository/bunrepo and
// adapter/repository/repotest are one adapter (the suite tests the repositories).
func adapterRoot(pkg string) string {
	parts := strings.Split(pkg, "/")
	if len(parts) >= 3 && parts[1] == "repository" {
		return "adapter/repository"
	}
	if len(parts) >= 2 {
		return parts[0] + "/" + parts[1]
	}
	return pkg
}

func TestArchitecture_DependencyRule(t *testing.T) {
	files := readImports(t)
	if len(files) < 20 {
		t.Fatalf("found only %d Go files: is the test running at the module root?", len(files))
	}
	for _, f := range files {
		for _, imp := range f.imports {
			internal := strings.TrimPrefix(imp, module+"/")
			isInternal := strings.HasPrefix(imp, module+"/")
			switch {
			case under(f.pkg, "domain"):
				if !isStdlib(imp) {
					t.Errorf("%s imports %s: domain may import only the standard library", f.file, imp)
				}
			case under(f.pkg, "usecase"):
				allowed := isStdlib(imp) || imp == module+"/domain" ||
					(imp == "github.com/google/wire" && strings.HasSuffix(f.file, "/providers.go"))
				if !allowed {
					t.Errorf("%s imports %s: usecase may import only domain and the standard library (wire in providers.go)", f.file, imp)
				}
			case under(f.pkg, "adapter"):
				// Infrastructure is driver-level plumbing (error classification, opening a
				// database) that adapters may use; cmd is where adapters meet, never below.
				if isInternal && under(internal, "cmd") {
					t.Errorf("%s imports %s: an adapter may not import cmd", f.file, imp)
				}
				if isInternal && under(internal, "adapter") && adapterRoot(internal) != adapterRoot(f.pkg) {
					t.Errorf("%s imports %s: adapters never import another adapter", f.file, imp)
				}
			case under(f.pkg, "infrastructure"):
				// No exception, not even for test helpers: dbtest makes databases, and the
				// schema's helper (bunrepo/bunrepotest) lives with the repositories.
				if isInternal && (under(internal, "usecase") || under(internal, "cmd") || under(internal, "domain")) {
					t.Errorf("%s imports %s: infrastructure holds no OAuth rules", f.file, imp)
				}
				if isInternal && under(internal, "adapter") {
					t.Errorf("%s imports %s: infrastructure may not import adapters", f.file, imp)
				}
			}
		}
	}
}

// TestArchitecture_NoFrameworksInTheCore names the libraries that must stay outside,
// so a failure says exactly what leaked in.
func TestArchitecture_NoFrameworksInTheCore(t *testing.T) {
	banned := []string{"github.com/labstack/echo", "github.com/uptrace/bun", "github.com/golang-jwt/jwt", "database/sql", "net/http"}
	for _, f := range readImports(t) {
		if !under(f.pkg, "domain") && !under(f.pkg, "usecase") {
			continue
		}
		for _, imp := range f.imports {
			for _, b := range banned {
				if strings.HasPrefix(imp, b) {
					t.Errorf("%s imports %s", f.file, imp)
				}
			}
		}
	}
}
