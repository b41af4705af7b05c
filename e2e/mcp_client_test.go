package e2e

// MCP clients end to end: the official MCP TypeScript SDK's client (e2e/mcpclient,
// run with node) and the official Go SDK's client, against cmd/example-mcp protected
// by Gatehouse. Each finds everything by itself from the 401: the protected-resource
// metadata, the authorization server's metadata, then registers (open dynamic
// registration, or a client ID metadata document served on loopback over TLS),
// runs the authorization code flow with PKCE and resource, and calls whoami, which
// must answer the signed-in user's sub. The browser step is this test's (form posts
// through login and consent).
//
// The TypeScript half needs node and `npm ci` in e2e/mcpclient; without them it is
// skipped, unless GATEHOUSE_TEST_REQUIRE_NODE=1 (CI) makes that a failure.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

const mcpRedirect = "http://127.0.0.1:33418/callback"

var exampleMCPBin struct {
	once sync.Once
	path string
	err  error
}

func exampleMCPBinary(t testing.TB) string {
	t.Helper()
	exampleMCPBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-e2e-example-mcp-")
		if err != nil {
			exampleMCPBin.err = err
			return
		}
		exampleMCPBin.path = filepath.Join(dir, "example-mcp")
		build := exec.Command(goTool(), "build", "-o", exampleMCPBin.path, "./cmd/example-mcp")
		build.Dir = ".."
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			exampleMCPBin.err = fmt.Errorf("go build ./cmd/example-mcp: %v\n%s", err, out)
		}
	})
	if exampleMCPBin.err != nil {
		t.Fatal(exampleMCPBin.err)
	}
	return exampleMCPBin.path
}

// startExampleMCP runs example-mcp for srv on a free port and returns its /mcp URL.
func startExampleMCP(t *testing.T, srv *Server) string {
	t.Helper()
	bin := exampleMCPBinary(t)
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		log := &syncBuffer{}
		cmd := exec.Command(bin, "--issuer", srv.URL, "--addr", addr)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		resource := "http://" + addr + "/mcp"
		deadline := time.Now().Add(30 * time.Second)
		for {
			// The answer must come from this process (its own log says it listens):
			// another test's example-mcp may hold the port.
			resp, err := http.Get("http://" + addr + "/.well-known/oauth-protected-resource/mcp")
			if err == nil {
				resp.Body.Close()
				if strings.Contains(log.String(), "example-mcp listening") {
					break
				}
			}
			select {
			case <-done:
				if attempt < 4 && strings.Contains(log.String(), "--addr") {
					goto retry
				}
				t.Fatalf("example-mcp exited:\n%s", log.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("example-mcp did not start:\n%s", log.String())
			}
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("example-mcp exited with %v after SIGTERM", err)
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("example-mcp did not stop within 15 s")
			}
			for _, v := range srv.sensitiveValues() {
				if strings.Contains(log.String(), v) {
					t.Errorf("SECURITY S46: example-mcp's log holds a secret or token (%.6s…)", v)
				}
			}
			if t.Failed() {
				t.Logf("example-mcp log:\n%s", tail(log.String(), 30))
			}
		})
		return resource
	retry:
	}
}

// mcpSetup is Gatehouse with open registration and metadata documents (served by
// docs on loopback), example-mcp registered as an open resource, and a user.
type mcpSetup struct {
	srv              *Server
	docs             *docServer
	resource         string
	userID           string
	username, passwd string
}

func newMCPSetup(t *testing.T) mcpSetup {
	t.Helper()
	docs := newDocServer(t)
	srv := startServer(t, Options{Env: map[string]string{
		"GATEHOUSE_DYNAMIC_REGISTRATION":              "open",
		"GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS":      "true",
		"GATEHOUSE_CLIENT_ID_METADATA_ALLOW_LOOPBACK": "true",
		"GATEHOUSE_OUTBOUND_CA_FILE":                  docs.caFile(t),
	}})
	resource := startExampleMCP(t, srv)
	if _, stderr, code := srv.CLI(t, "", "resources", "create", "--uri", resource, "--name", "Example MCP", "--open"); code != 0 {
		t.Fatalf("resources create: %s", stderr)
	}
	name, pass := uniqueName("mcpuser"), "pw-"+randomString(16)
	id := srv.CreateUser(t, name, pass)
	return mcpSetup{srv: srv, docs: docs, resource: resource, userID: id, username: name, passwd: pass}
}

// browse signs the user in and consents at the authorization URL, and returns the
// redirect back to the client; the consent page must name the MCP server.
func (s mcpSetup) browse(t *testing.T, authorizationURL string) url.Values {
	t.Helper()
	if !strings.HasPrefix(authorizationURL, s.srv.URL+"/oauth/authorize?") {
		t.Fatalf("authorization URL %q is not Gatehouse's", authorizationURL)
	}
	q, _ := url.Parse(authorizationURL)
	if got := q.Query()["resource"]; len(got) != 1 || got[0] != s.resource {
		t.Errorf("the client asked for resource %v, want %s", got, s.resource)
	}
	if q.Query().Get("code_challenge_method") != "S256" {
		t.Errorf("no S256 PKCE in %s", authorizationURL)
	}
	b := newAZBrowser(t, s.srv)
	f := b.follow(b.get(authorizationURL), s.username, s.passwd, "allow")
	if !f.SawConsent || !strings.Contains(f.ConsentPage, "Example MCP") {
		t.Errorf("consent shown %v; the consent page must name the MCP server", f.SawConsent)
	}
	if !strings.HasPrefix(f.Location, mcpRedirect) || f.Query.Get("code") == "" {
		t.Fatalf("redirect %q, want a code at %s", f.Location, mcpRedirect)
	}
	return f.Query
}

// nodeClientDir is e2e/mcpclient when node and its installed packages are there;
// otherwise the test is skipped, or fails with GATEHOUSE_TEST_REQUIRE_NODE=1.
func nodeClientDir(t *testing.T) (node, dir string) {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_NODE") == "1" {
			t.Fatalf("GATEHOUSE_TEST_REQUIRE_NODE=1 but %s", why)
		}
		t.Skipf("skipping the MCP TypeScript SDK client: %s (set GATEHOUSE_TEST_REQUIRE_NODE=1 to require it)", why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	dir, _ = filepath.Abs("mcpclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		missing("run `npm ci --no-audit --no-fund` in e2e/mcpclient first")
	}
	return node, dir
}

// runNodeClient runs client.mjs with env, does the browser step when it asks, and
// returns its RESULT.
func runNodeClient(t *testing.T, s mcpSetup, env ...string) map[string]any {
	t.Helper()
	node, dir := nodeClientDir(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"MCP_URL=" + s.resource, "REDIRECT_URL=" + mcpRedirect}, env...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var result map[string]any
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		word, rest, _ := strings.Cut(sc.Text(), " ")
		switch word {
		case "AUTHORIZE":
			q := s.browse(t, rest)
			fmt.Fprintf(stdin, "CODE %s %s\n", q.Get("code"), q.Get("state"))
		case "RESULT":
			if err := json.Unmarshal([]byte(rest), &result); err != nil {
				t.Fatalf("RESULT %q: %v", rest, err)
			}
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the TypeScript MCP client failed: %v\n%s", err, stderr.String())
	}
	if result == nil {
		t.Fatalf("no RESULT from the TypeScript MCP client\n%s", stderr.String())
	}
	return result
}

func wantWhoami(t *testing.T, s mcpSetup, who map[string]any) {
	t.Helper()
	if who["sub"] != s.userID {
		t.Errorf("whoami answered sub %v, want the user %s", who["sub"], s.userID)
	}
}

func TestMCPClient_TypeScriptSDK(t *testing.T) {
	t.Parallel()
	nodeClientDir(t)
	s := newMCPSetup(t)
	t.Run("open dynamic registration", func(t *testing.T) {
		r := runNodeClient(t, s, "MODE=dcr")
		who, _ := r["whoami"].(map[string]any)
		wantWhoami(t, s, who)
		if id, _ := r["client_id"].(string); id == "" || strings.HasPrefix(id, "https://") {
			t.Errorf("client_id %q: want one Gatehouse issued", id)
		}
	})
	t.Run("client ID metadata document", func(t *testing.T) {
		docURL := s.docs.serveDoc("/ts-client.json", func(d map[string]any) {
			d["client_name"] = "Gatehouse e2e MCP client"
			d["redirect_uris"] = []string{mcpRedirect}
		})
		r := runNodeClient(t, s, "MODE=cimd", "CLIENT_METADATA_URL="+docURL)
		who, _ := r["whoami"].(map[string]any)
		wantWhoami(t, s, who)
		if r["client_id"] != docURL {
			t.Errorf("client_id %v, want the document's URL %s", r["client_id"], docURL)
		}
		if who["client_id"] != docURL {
			t.Errorf("the token's client_id is %v, want %s", who["client_id"], docURL)
		}
	})
}

// TestMCPClient_GoSDK: the same flow with the Go SDK's client and its
// authorization code handler (auth.AuthorizationCodeHandler).
func TestMCPClient_GoSDK(t *testing.T) {
	t.Parallel()
	s := newMCPSetup(t)
	fetcher := func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		q := s.browse(t, args.URL)
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
	run := func(t *testing.T, cfg *auth.AuthorizationCodeHandlerConfig) map[string]any {
		t.Helper()
		cfg.RedirectURL, cfg.AuthorizationCodeFetcher = mcpRedirect, fetcher
		h, err := auth.NewAuthorizationCodeHandler(cfg)
		if err != nil {
			t.Fatal(err)
		}
		client := mcp.NewClient(&mcp.Implementation{Name: "gatehouse-e2e-go", Version: "1.0.0"}, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.resource, OAuthHandler: h, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer session.Close()
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
		if err != nil || res.IsError {
			t.Fatalf("whoami: %v %+v", err, res)
		}
		raw, _ := json.Marshal(res.StructuredContent)
		var who map[string]any
		_ = json.Unmarshal(raw, &who)
		return who
	}
	t.Run("open dynamic registration", func(t *testing.T) {
		who := run(t, &auth.AuthorizationCodeHandlerConfig{DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{ClientName: "Gatehouse e2e Go MCP client", RedirectURIs: []string{mcpRedirect},
				GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
				TokenEndpointAuthMethod: "none"}}})
		wantWhoami(t, s, who)
	})
	t.Run("client ID metadata document", func(t *testing.T) {
		docURL := s.docs.serveDoc("/go-client.json", func(d map[string]any) { d["redirect_uris"] = []string{mcpRedirect} })
		who := run(t, &auth.AuthorizationCodeHandlerConfig{ClientIDMetadataDocumentConfig: &auth.ClientIDMetadataDocumentConfig{URL: docURL}})
		wantWhoami(t, s, who)
		if who["client_id"] != docURL {
			t.Errorf("the token's client_id is %v, want %s", who["client_id"], docURL)
		}
	})
}
