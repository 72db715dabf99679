//! JOSE plumbing shared by every token path: strict base64url, strict JSON helpers, and the
//! JWS header rules.

pub(crate) mod b64;
pub(crate) mod compact;
pub(crate) mod header;
pub(crate) mod json;
