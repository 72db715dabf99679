//! The official MCP TypeScript SDK (`@modelcontextprotocol/sdk`, pinned in
//! `tests/interop/package-lock.json`) against the example `rmcp` server behind the layer: the
//! SDK reads the 401 challenge and the RFC 9728 document, finds the authorization server (the
//! embedded test issuer), gets a client-credentials token for the resource with its own
//! provider, and lists and calls the server's tools.

#[path = "../examples/mcp_server.rs"]
#[allow(dead_code)]
mod mcp_server;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;
use tower_jwt_auth::testing::TestIssuer;

#[tokio::test]
async fn the_mcp_typescript_sdk_discovers_the_issuer_and_uses_the_tools() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/@modelcontextprotocol/sdk").is_dir(),
        "the MCP SDK is not installed: run `bash tests/setup.sh` (the README's test command does)"
    );
    let issuer = TestIssuer::builder()
        .client("mcp-client", "mcp-secret")
        .start()
        .await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let app = mcp_server::app(issuer.url(), &resource);
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let run = Command::new("node")
        .arg(dir.join("mcp_client.mjs"))
        .args([resource.as_str(), "mcp-client", "mcp-secret", issuer.url()])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the MCP client finished within 60 s")
        .expect("run node (Node.js is needed for the MCP test)");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let steps: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let step = |name: &str| -> &Value {
        steps.iter().find(|s| s["step"] == name).unwrap_or_else(|| {
            panic!(
                "no step {name}: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    };
    assert!(output.status.success(), "{stdout}");

    let unauthenticated = step("unauthenticated");
    assert_eq!(unauthenticated["status"], 401);
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        resource.trim_end_matches("/mcp")
    );
    assert_eq!(unauthenticated["resource_metadata"], metadata_url);
    assert_eq!(
        unauthenticated["www_authenticate"],
        format!(r#"Bearer realm="{resource}", resource_metadata="{metadata_url}""#)
    );
    let document = &step("resource_metadata")["document"];
    assert_eq!(document["resource"], resource);
    assert_eq!(document["authorization_servers"][0], issuer.url());
    assert_eq!(document["scopes_supported"][0], mcp_server::TOOLS_SCOPE);
    let server_meta = step("authorization_server");
    assert_eq!(server_meta["issuer"], issuer.url());
    assert_eq!(server_meta["token_endpoint"], issuer.token_endpoint());
    assert_eq!(step("connected")["token_obtained"], true);
    assert_eq!(step("tools")["names"], serde_json::json!(["usage"]));
    assert_eq!(
        step("call")["text"],
        "meter-17: 12.4 kWh (asked by mcp-client)"
    );
    // The SDK asked the issuer for a token once.
    assert_eq!(issuer.token_requests(), 1);
}
