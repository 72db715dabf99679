// The independent validators of tests/differential.rs: reads one JSON document naming the
// issuer, the audience, the JWK set and the tokens; writes, for each token, what panva's `jose`
// (`jwtVerify`) and `oauth4webapi` (`validateJwtAccessToken`, RFC 9068) answer.
//
// usage: node differential.mjs <input.json>   (the answer goes to standard output)
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { issuer, audience, jwks, clock_tolerance: tolerance } = input;

const localKeys = jose.createLocalJWKSet(jwks);
const as = { issuer, jwks_uri: `${issuer}/jwks` };
// The JWK set is served from memory: nothing leaves the process.
const jwksBody = JSON.stringify(jwks);
const options = {
  [oauth.customFetch]: async () =>
    new Response(jwksBody, { status: 200, headers: { 'content-type': 'application/json' } }),
  [oauth.clockTolerance]: tolerance,
};

const verdict = (promise) =>
  promise.then(
    () => 'ok',
    (error) => `${error?.code ?? error?.name ?? 'error'}: ${error?.message ?? error}`,
  );

const results = {};
for (const { id, token } of input.tokens) {
  const byJose = verdict(
    jose.jwtVerify(token, localKeys, { issuer, audience, clockTolerance: tolerance }),
  );
  let byOauth;
  try {
    const request = new Request('https://rs.example.com/usage', {
      headers: { authorization: `Bearer ${token}` },
    });
    byOauth = verdict(oauth.validateJwtAccessToken(as, request, audience, options));
  } catch (error) {
    // A token that cannot even be a header value.
    byOauth = Promise.resolve(`request: ${error?.message ?? error}`);
  }
  results[id] = { jose: await byJose, oauth4webapi: await byOauth };
}
process.stdout.write(JSON.stringify(results));
