//! An MCP server (the official Rust SDK, `rmcp`, over streamable HTTP) protected by
//! tower-jwt-auth, the way the MCP authorization specification asks: tokens must be minted for
//! this server's URL (its audience), the 401 challenge points at its OAuth 2.0 Protected Resource
//! Metadata (RFC 9728), and that document names the authorization server.
//!
//! ```sh
//! cargo run --example mcp_server                        # with an embedded test issuer
//! ISSUER=https://auth.example.com PORT=8080 cargo run --example mcp_server
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{schemars, tool, tool_handler, tool_router, RoleServer, ServerHandler};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth, ResourceMetadata};

/// The scope a caller needs to use the tools.
pub const TOOLS_SCOPE: &str = "mcp.tools";

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct UsageRequest {
    #[schemars(description = "the meter, e.g. \"meter-17\"")]
    pub meter_id: String,
}

/// One tool: a meter's usage, for the caller the token names.
#[derive(Clone)]
pub struct Insights {
    #[allow(dead_code)] // read by the code `tool_handler` generates
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Insights {
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Energy usage of a meter over the last 24 hours, in kWh")]
    fn usage(
        &self,
        Parameters(UsageRequest { meter_id }): Parameters<UsageRequest>,
        context: RequestContext<RoleServer>,
    ) -> String {
        // The layer put the verified claims into the HTTP request, which rmcp hands over.
        let caller = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Claims>())
            .map_or_else(|| "unknown".to_owned(), |claims| claims.sub.clone());
        format!("{meter_id}: 12.4 kWh (asked by {caller})")
    }
}

impl Default for Insights {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_handler]
impl ServerHandler for Insights {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("Energy usage insights")
    }
}

/// The MCP endpoint at `resource` (`http://host:port/mcp`) behind the layer, and the public
/// metadata document beside it.
pub fn app(issuer: &str, resource: &str) -> Router {
    let auth = JwtAuth::new(issuer, resource)
        .resource_metadata(
            ResourceMetadata::new(resource)
                .scopes_supported([TOOLS_SCOPE])
                .resource_name("Usage insights (MCP)"),
        )
        .require_scopes([TOOLS_SCOPE]);
    let mcp: StreamableHttpService<Insights, LocalSessionManager> = StreamableHttpService::new(
        || Ok(Insights::new()),
        Arc::default(),
        StreamableHttpServerConfig::default(),
    );
    Router::new()
        .nest_service("/mcp", mcp)
        .layer(auth.clone())
        .route_service(auth.metadata_path(), auth.metadata_service())
}

#[allow(dead_code)] // also compiled into the MCP interoperability test, which has its own main
#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rmcp=warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("bind 127.0.0.1");
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());

    // Without ISSUER, an embedded issuer with a client for MCP clients to use.
    let (issuer_url, _embedded) = match std::env::var("ISSUER") {
        Ok(url) => (url, None),
        Err(_) => {
            let issuer = TestIssuer::builder()
                .client("mcp-client", "mcp-secret")
                .start()
                .await;
            (issuer.url().to_owned(), Some(issuer))
        }
    };
    let app = app(&issuer_url, &resource);
    println!("MCP server at {resource} (tokens from {issuer_url})");
    println!(
        "metadata:   curl {resource_metadata}",
        resource_metadata = format_args!(
            "{}{}",
            resource.trim_end_matches("/mcp"),
            "/.well-known/oauth-protected-resource/mcp"
        )
    );
    if let Some(issuer) = &_embedded {
        println!(
            "a token:    curl -s -u mcp-client:mcp-secret -d grant_type=client_credentials \
             -d resource={resource} -d scope={TOOLS_SCOPE} {}",
            issuer.token_endpoint()
        );
        let token = issuer.token().aud(&resource).scopes([TOOLS_SCOPE]).sign();
        println!(
            "initialize: curl -i {resource} -H 'Authorization: Bearer {token}' \
             -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
             -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"curl\",\"version\":\"1\"}}}}}}'"
        );
        println!(
            "An MCP client with client credentials mcp-client / mcp-secret finds the rest itself."
        );
    }
    axum::serve(listener, app).await.expect("serve");
}
