//! The same layer for `reqwest` (feature `reqwest-middleware`): reqwest is not a tower service,
//! and reqwest-middleware is where its users already put retries and tracing.

use http::header::AUTHORIZATION;
use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use super::layer::refused_as_invalid;
use super::{AccessToken, AddAccessToken, TokenSource};

/// The source's current token and its `Authorization` value.
async fn bearer<T: TokenSource>(
    source: &T,
) -> reqwest_middleware::Result<(AccessToken, http::HeaderValue)> {
    let token = source
        .token()
        .await
        .map_err(reqwest_middleware::Error::middleware)?;
    let value = token
        .authorization()
        .map_err(reqwest_middleware::Error::middleware)?;
    Ok((token, value))
}

/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_jwt_auth::client::{AddAccessToken, ClientCredentials};
///
/// let source = ClientCredentials::discover("https://oauth.flip.energy", "acme", "s3cr3t");
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(AddAccessToken::new(source))
///     .build();
/// let programs = http.get("https://api-utility.flip.energy/programs").send().await?;
/// # let _ = programs;
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
impl<T: TokenSource> Middleware for AddAccessToken<T> {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        // A streaming body cannot be sent twice: such a request gets the refusal.
        let replay = req.try_clone();
        let (token, value) = bearer(&*self.source).await?;
        req.headers_mut().insert(AUTHORIZATION, value);
        let res = next.clone().run(req, extensions).await?;
        if !refused_as_invalid(res.status(), res.headers()) {
            return Ok(res);
        }
        self.source.invalidate(&token);
        let Some(mut retry) = replay else {
            return Ok(res);
        };
        let (_, value) = bearer(&*self.source).await?;
        retry.headers_mut().insert(AUTHORIZATION, value);
        next.run(retry, extensions).await
    }
}
