//! `bench-baseline`: the reference server of `scripts/bench.sh`. It answers every request
//! with the same 1.5 KB JSON body on the same stack as credstore (axum, hyper, a tokio
//! multi-thread runtime), so the benchmark can report credstore's throughput as a ratio
//! to what this machine serves when a handler does no work at all.
//!
//! Usage: `bench-baseline 127.0.0.1:PORT`

use axum::http::header::CONTENT_TYPE;
use axum::Router;

/// About 1.5 KB of JSON (30 small objects), built once.
fn body() -> String {
    let items: Vec<String> = (0..30)
        .map(|i| format!("{{\"id\":{i},\"name\":\"baseline item {i:04}\",\"kind\":\"ssh\"}}"))
        .collect();
    format!("{{\"count\":30,\"results\":[{}]}}", items.join(","))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8060".into());
    let body: &'static str = Box::leak(body().into_boxed_str());
    let app =
        Router::new().fallback(move || async move { ([(CONTENT_TYPE, "application/json")], body) });
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
