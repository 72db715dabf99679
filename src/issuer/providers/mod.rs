//! Presets for the identity providers in use, one file per provider family. Each is an
//! [`Issuer`](crate::Issuer) with the provider's `iss`, key location, token location and claim
//! names; `.jwks_uri(..)`, `.jwks(..)` and `.pem_key(..)` still override where keys come from.

mod aws;
mod cloudflare;
mod github;
mod google;
mod keycloak;
mod kubernetes;
mod microsoft;
mod okta_auth0;
