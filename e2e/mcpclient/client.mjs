// An MCP client built only on the official TypeScript SDK (its Client, its
// streamable HTTP transport and its OAuth client provider), run by
// e2e/mcp_client_test.go against cmd/example-mcp protected by Gatehouse:
//
//   401 → protected-resource metadata → authorization server metadata →
//   registration (MODE=dcr: open dynamic registration; MODE=cimd: a client ID
//   metadata document at CLIENT_METADATA_URL) → authorization code + PKCE +
//   resource → token → tools/call whoami.
//
// The browser step is the test's: this script prints "AUTHORIZE <url>" on stdout
// and reads "CODE <code> <state>" from stdin. It ends with "RESULT <json>" (the
// whoami answer) and exit status 0; any failure is one line on stderr, status 1.
//
// Environment: MCP_URL (required), MODE (dcr or cimd), REDIRECT_URL,
// CLIENT_METADATA_URL (for cimd).
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const mcpURL = new URL(required('MCP_URL'));
const mode = process.env.MODE || 'dcr';
const redirectURL = process.env.REDIRECT_URL || 'http://127.0.0.1:33418/callback';

function required(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is required`);
  return v;
}

function fail(msg) {
  process.stderr.write(`mcpclient: ${msg}\n`);
  process.exit(1);
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// Provider keeps everything in memory, as a command-line MCP client would for one run.
class Provider {
  constructor() {
    this._state = randomBytes(16).toString('hex');
    if (mode === 'cimd') this.clientMetadataUrl = required('CLIENT_METADATA_URL');
  }
  get redirectUrl() { return redirectURL; }
  get clientMetadata() {
    return {
      client_name: 'Gatehouse e2e MCP client',
      redirect_uris: [redirectURL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { return this._state; }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  redirectToAuthorization(url) { this.authorizationURL = url; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
}

async function main() {
  const provider = new Provider();
  const client = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
  let transport = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
  try {
    await client.connect(transport);
    fail('connected without authorization');
  } catch (err) {
    if (!(err instanceof UnauthorizedError) || !provider.authorizationURL) throw err;
  }
  process.stdout.write(`AUTHORIZE ${provider.authorizationURL.href}\n`);
  const { value, done } = await lines.next();
  if (done) fail('no CODE line on stdin');
  const [word, code, state] = value.trim().split(' ');
  if (word !== 'CODE' || !code) fail(`expected "CODE <code> <state>", got ${JSON.stringify(value)}`);
  if (state !== provider.state()) fail('the state that came back is not the one sent');
  await transport.finishAuth(code);

  transport = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
  await client.connect(transport);
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  if (result.isError) fail(`whoami failed: ${JSON.stringify(result)}`);
  process.stdout.write(`RESULT ${JSON.stringify({
    whoami: result.structuredContent,
    client_id: provider.clientInformation()?.client_id,
    scope: provider.tokens()?.scope,
  })}\n`);
  await client.close();
}

main().then(() => process.exit(0), (err) => fail(err?.stack || String(err)));
