// The official MCP TypeScript SDK as a client of an MCP server protected by tower-jwt-auth.
//
//   node mcp_client.mjs <server url> <client id> <client secret> <issuer>
//
// Prints one JSON line per step: the server's answer without a token (401 and its challenge),
// the SDK's protected-resource discovery (RFC 9728) and authorization-server discovery, then a
// connection with the SDK's own client-credentials provider (which reads the challenge, finds
// the authorization server, gets a token for the resource and retries), the tools it lists and
// one tool call.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from '@modelcontextprotocol/sdk/client/auth.js';

const [serverUrl, clientId, clientSecret, issuer] = process.argv.slice(2);
const out = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);

try {
  const res = await fetch(serverUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } },
    }),
  });
  const { resourceMetadataUrl } = extractWWWAuthenticateParams(res);
  out({
    step: 'unauthenticated',
    status: res.status,
    www_authenticate: res.headers.get('www-authenticate'),
    resource_metadata: resourceMetadataUrl?.href ?? null,
  });

  const prm = await discoverOAuthProtectedResourceMetadata(serverUrl, { resourceMetadataUrl });
  out({ step: 'resource_metadata', document: prm });
  const as = await discoverAuthorizationServerMetadata(prm.authorization_servers[0]);
  out({ step: 'authorization_server', issuer: as?.issuer ?? null, token_endpoint: as?.token_endpoint ?? null });

  // The SDK's client-credentials provider asks for the scope it is configured with: the scopes
  // the resource advertises.
  const provider = new ClientCredentialsProvider({
    clientId,
    clientSecret,
    expectedIssuer: issuer,
    scope: prm.scopes_supported?.join(' '),
  });
  const client = new Client({ name: 'tower-jwt-auth-interop', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
  out({ step: 'connected', token_obtained: Boolean(provider.tokens()?.access_token) });
  const { tools } = await client.listTools();
  out({ step: 'tools', names: tools.map((t) => t.name) });
  const result = await client.callTool({ name: 'usage', arguments: { meter_id: 'meter-17' } });
  out({ step: 'call', text: result.content?.[0]?.text ?? null });
  await client.close();
} catch (e) {
  out({ step: 'error', message: String(e?.stack ?? e) });
  process.exitCode = 1;
}
