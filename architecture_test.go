package gatehouse_test

// The dependency rule of ARCHITECTURE.md, enforced: the OAuth rules in domain and
// usecase know nothing of HTTP, SQL or JWT libraries, and adapters never reach into
// each other. Imports are read from the source of every non-test file.

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
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

// sourceFiles returns the path of every non-test Go file of the module, skipping
// hidden directories, testdata and the build and data directories.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var out []string
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
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readImports(t *testing.T) []fileImports {
	t.Helper()
	var out []fileImports
	fset := token.NewFileSet()
	for _, path := range sourceFiles(t) {
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		fi := fileImports{pkg: filepath.ToSlash(filepath.Dir(path)), file: filepath.ToSlash(path)}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			fi.imports = append(fi.imports, p)
		}
		out = append(out, fi)
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

// figurePatterns match measured figures: rates (1,441/s, 3,791 requests/s,
// 140 MiB/s, 7,000 requests a second), before → after, ratios (0.55× the baseline),
// shares (16 %), latencies at a percentile (p99 17 ms, 11 ms at the median, the 99th
// percentile of 22.7 ms), "measured 215 µs" and Go benchmark columns (ns/op). Sizes
// (64 KiB), durations of settings (10 s, 100 ms) and RFC sections (§4.1.3) pass.
var figurePatterns = []*regexp.Regexp{
	regexp.MustCompile(`[0-9][0-9,.]*( ?[A-Za-z]+)?/s\b`),
	regexp.MustCompile(`[0-9][0-9,.]* [a-z]+ (a|per) second\b`),
	regexp.MustCompile(`(→|->) ?[0-9]`),
	regexp.MustCompile(`[0-9][0-9.]* ?×([^0-9 ]| [^0-9]|$)`),
	regexp.MustCompile(`[0-9][0-9.]* ?%([^0-9A-Za-z-]|$)`),
	regexp.MustCompile(`(?i)\b(p[0-9]{2}|median|percentile)\b[^.;]{0,40}?[0-9][0-9.]* ?(ms|µs|us)\b`),
	regexp.MustCompile(`(?i)[0-9] ?(ms|µs|us) (at )?(the )?(median|p[0-9]{2}\b|[0-9]{2}th)`),
	regexp.MustCompile(`(?i)\bmeasured\b[^.;]{0,20}?[0-9]`),
	regexp.MustCompile(`[0-9] ?(ns|B|allocs)/op\b`),
}

// TestArchitecture_NoFiguresInComments: benchmark figures in code comments go stale
// as the code changes around them. A comment keeps the reason in prose; the figures
// live in BENCHMARKS.md ("What the speed comes from", "Tried and dropped"), where
// they are dated and measured together. bench/ and cmd/loadgen measure, so their
// comments may quote figures; test files are not read.
func TestArchitecture_NoFiguresInComments(t *testing.T) {
	fset := token.NewFileSet()
	for _, path := range sourceFiles(t) {
		file := filepath.ToSlash(path)
		if dir := filepath.ToSlash(filepath.Dir(path)); under(dir, "bench") || under(dir, "cmd/loadgen") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, cg := range f.Comments {
			// A figure may break across lines: match the group as one line.
			text := strings.Join(strings.Fields(cg.Text()), " ")
			for _, re := range figurePatterns {
				if m := re.FindString(text); m != "" {
					t.Errorf("%s:%d: a figure in a comment (%q): say why in prose, and put the figure in BENCHMARKS.md",
						file, fset.Position(cg.Pos()).Line, m)
				}
			}
		}
	}
}

// TestArchitecture_FigurePatterns holds the patterns to what they are for: figures
// from old comments match, the numbers comments need do not.
func TestArchitecture_FigurePatterns(t *testing.T) {
	matches := func(s string) bool {
		for _, re := range figurePatterns {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	}
	for _, s := range []string{
		"introspection on PostgreSQL went from 2,046 to 3,791 requests/s in one A/B run",
		"refresh under load spent its time asleep (p50 48 ms, 970/s)",
		"refresh 6,887–7,205/s → 7,214–7,439/s",
		"at 7,000 requests/s that is ~140 MiB/s",
		"the server peaked at 98–114 MiB serving 60–66 grants/s",
		"introspection went from 0.49–0.51× the baseline to 0.51–0.55×, and userinfo",
		"client credentials stands at 0.36 × today",
		"the sub-journal cost a pwrite per page (16 % of a code exchange's CPU)",
		"answered in 11 ms at the median but 32 ms at the 99th percentile",
		"answered code exchanges with a 99th percentile of 22.7 ms",
		"A refresh-token rotation measured 215 µs of connection time alone",
		"it served 7,000 requests a second",
		"BenchmarkTokenRefresh 204343 ns/op",
	} {
		if !matches(s) {
			t.Errorf("no pattern matches the figure in %q", s)
		}
	}
	for _, s := range []string{
		"RFC 6749 §4.1.3 and RFC 7636 §4.6",
		"a 64 KiB buffer, flushed every 200 ms; 4 KiB pages: 16 MiB",
		"The TTL (GATEHOUSE_CLIENT_CACHE_TTL, default 5 s) is the bound",
		"busy_timeout's back-off (1, 2, 5 … 100 ms)",
		"a lower 99th percentile, and the code exchange did not move",
		"P-256 and P256 keys; secrets holding ':', '%' or '+'",
		"the lease lasts three ticks (at least 5 s); 2 × 3 retries",
		"up to 4 bytes per character: 512 bytes per password",
		"see /api/v1/sessions",
	} {
		if matches(s) {
			t.Errorf("a pattern matches %q, which holds no measured figure", s)
		}
	}
}
