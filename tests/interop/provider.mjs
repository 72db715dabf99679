// panva's oidc-provider as an OAuth 2.0 authorization server on 127.0.0.1 with a random port:
// client credentials, JWT access tokens per resource indicator (RFC 8707), one resource per
// signing algorithm, and opaque access tokens for the `:opaque` resources, judged by its
// introspection endpoint (RFC 7662) for a second client (the resource server's) and revocable
// at its revocation endpoint (RFC 7009). Prints {"issuer", "client_id", "client_secret",
// "rs_client_id", "rs_client_secret"} once it listens, and exits when its standard input closes
// (the test that started it is gone). Tokens of the `payouts-api` resources carry `acr` and
// `auth_time` (its `acrValues` and `extraTokenClaims`).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const CLIENT_ID = 'interop-client';
const CLIENT_SECRET = 'interop-secret-0123456789';
const RS_CLIENT_ID = 'interop-resource-server';
const RS_CLIENT_SECRET = 'interop-rs-secret-9876543210';

// One signing key per algorithm the crate supports, generated fresh for each run.
const specs = {
  RS256: ['rsa', { modulusLength: 2048 }],
  PS256: ['rsa', { modulusLength: 2048 }],
  ES256: ['ec', { namedCurve: 'P-256' }],
  ES384: ['ec', { namedCurve: 'P-384' }],
  EdDSA: ['ed25519', {}],
};
const keys = Object.entries(specs).map(([alg, [type, options]]) => {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `interop-${alg.toLowerCase()}` };
});

// resource indicator -> resource server
const resources = new Map(Object.keys(specs).map((alg) => [
  `urn:interop:insights-api:${alg}`,
  { audience: 'insights-api', scope: 'insights.read insights.write', alg },
]));
resources.set('urn:interop:data-management-api', { audience: 'data-management-api', scope: 'data.read', alg: 'ES256' });
resources.set('urn:interop:insights-api:opaque', { audience: 'insights-api', scope: 'insights.read insights.write', opaque: true });
resources.set('urn:interop:data-management-api:opaque', { audience: 'data-management-api', scope: 'data.read', opaque: true });
// Step-up (RFC 9470): tokens that say how, and how long ago, the user authenticated — a
// second factor 30 s ago, or a password two hours ago — as JWTs and as opaque tokens.
for (const [name, acr, authAge] of [['mfa-recent', 'urn:eliq:acr:mfa', 30], ['pwd-old', 'urn:eliq:acr:pwd', 7200]]) {
  resources.set(`urn:interop:payouts-api:${name}`, { audience: 'payouts-api', scope: 'payouts.write', alg: 'ES256', acr, authAge });
  resources.set(`urn:interop:payouts-api:${name}:opaque`, { audience: 'payouts-api', scope: 'payouts.write', opaque: true, acr, authAge });
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    }, {
      client_id: RS_CLIENT_ID,
      client_secret: RS_CLIENT_SECRET,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    }],
    jwks: { keys },
    acrValues: ['urn:eliq:acr:pwd', 'urn:eliq:acr:mfa'],
    extraTokenClaims(ctx, token) {
      const rs = token.resourceServer && resources.get(token.resourceServer.identifier());
      if (!rs?.acr) return undefined;
      return { acr: rs.acr, auth_time: Math.floor(Date.now() / 1000) - rs.authAge };
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Only the resource server (and a token's own client) may introspect; only a token's own
      // client may revoke it.
      introspection: {
        enabled: true,
        allowedPolicy: (ctx, client, token) => client.clientId === RS_CLIENT_ID || client.clientId === token.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: (ctx, client, token) => client.clientId === token.clientId,
      },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo(ctx, indicator) {
          const rs = resources.get(indicator);
          if (!rs) throw new errors.InvalidTarget();
          if (rs.opaque) {
            return { audience: rs.audience, scope: rs.scope, accessTokenTTL: 600, accessTokenFormat: 'opaque' };
          }
          return {
            audience: rs.audience,
            scope: rs.scope,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: rs.alg } },
          };
        },
      },
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({
    issuer,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    rs_client_id: RS_CLIENT_ID,
    rs_client_secret: RS_CLIENT_SECRET,
  })}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
