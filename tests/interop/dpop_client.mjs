// An independent DPoP client (RFC 9449) built on panva's `jose`: it generates a key pair,
// obtains a DPoP-bound client-credentials token from the authorization server (a proof on the
// token request), prints {"status", "token_type", "access_token", "jkt"} as one JSON line, then
// answers each line {"method", "url", "nonce"?} on its standard input with {"proof"}: a fresh
// proof for that request and the token. Exits when its standard input closes.
//
// usage: node dpop_client.mjs <issuer> <client_id> <client_secret> <resource> [alg]
import { createHash, randomUUID } from 'node:crypto';
import readline from 'node:readline';

import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';

const [issuer, clientId, clientSecret, resource, alg = 'ES256'] = process.argv.slice(2);
const { publicKey, privateKey } = await generateKeyPair(alg);
const jwk = await exportJWK(publicKey);

async function proof(htm, htu, accessToken, nonce) {
  const claims = { htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) };
  if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
  if (nonce) claims.nonce = nonce;
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'dpop+jwt', jwk }).sign(privateKey);
}

const tokenEndpoint = `${issuer}/token`;
const res = await fetch(tokenEndpoint, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
    dpop: await proof('POST', tokenEndpoint),
  },
  body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'insights.read' }),
});
const body = await res.json();
process.stdout.write(`${JSON.stringify({
  status: res.status,
  token_type: body.token_type,
  access_token: body.access_token,
  jkt: await calculateJwkThumbprint(jwk),
})}\n`);

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const { method, url, nonce } = JSON.parse(line);
  process.stdout.write(`${JSON.stringify({ proof: await proof(method, url, body.access_token, nonce) })}\n`);
}
process.exit(0);
