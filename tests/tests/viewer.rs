//! The viewer: its tokens (mint and verify, expiry, tenant and actor
//! forcing, read-only, tampering refused) and its page and asset routes
//! (Content-Security-Policy, frame-ancestors, caching), over a real port.

use activity_log::http::{ActivityApi, Principal, RateLimits, StaticTokens, Viewer, ViewerTokenError, ViewerTokens};
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, ActivityLogger, Actor, Sink};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

fn tokens() -> ViewerTokens {
    ViewerTokens::new(SECRET).unwrap()
}

struct Server {
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(viewer: Option<Viewer>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteSink::connect(&format!("sqlite://{}", dir.path().join("log.db").display())).await.unwrap();
        let mut batch = Vec::new();
        for t in ["acme", "globex"] {
            for i in 0..10 {
                batch.push(
                    Activity::new("call_created")
                        .tenant(t)
                        .actor(Actor::user(format!("{t}-user-{}", i % 2)))
                        .description(format!("{t} {i}"))
                        .build()
                        .unwrap(),
                );
            }
        }
        store.write_batch(&batch).await.unwrap();
        let logger = ActivityLogger::builder().sink(store.clone()).build().unwrap();
        let host = StaticTokens::new().token("host-ops", Principal::all_tenants("ops").read().ingest().admin());
        let mut api = ActivityApi::new(store, host).logger(logger).rate_limits(RateLimits::unlimited());
        if let Some(v) = viewer {
            api = api.viewer(v);
        }
        let app = axum::Router::new().nest("/log", api.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/log", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, client: reqwest::Client::new(), _dir: dir }
    }

    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap()
    }

    async fn items(&self, token: &str, path: &str) -> Vec<Value> {
        let r = self.get(token, path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
    }
}

#[test]
fn minting_checks_its_inputs() {
    assert_eq!(ViewerTokens::new(b"short").unwrap_err(), ViewerTokenError::SecretTooShort(5));
    let t = tokens();
    assert_eq!(t.mint("", None, Duration::from_secs(60)).unwrap_err(), ViewerTokenError::EmptyTenant);
    assert_eq!(t.mint("acme", Some(""), Duration::from_secs(60)).unwrap_err(), ViewerTokenError::EmptyActor);
    assert_eq!(t.mint("acme", None, Duration::ZERO).unwrap_err(), ViewerTokenError::BadTtl);
    assert_eq!(t.mint("acme", None, Duration::from_secs(25 * 3600)).unwrap_err(), ViewerTokenError::BadTtl);
    assert!(format!("{t:?}").find("0123456789").is_none(), "Debug never shows the secret");
}

#[test]
fn a_minted_token_verifies_to_a_read_only_principal_of_its_tenant_and_actor() {
    let t = tokens();
    let p = t.verify(&t.mint("acme", None, Duration::from_secs(60)).unwrap()).unwrap();
    assert_eq!(p.tenant_id(), Some("acme"));
    assert_eq!(p.actor, None);
    assert!(p.permissions.read && !p.permissions.ingest && !p.permissions.admin);
    let p = t.verify(&t.mint("acme", Some("ann"), Duration::from_secs(60)).unwrap()).unwrap();
    assert_eq!(p.actor.as_deref(), Some("ann"));
    // Two tokens are two principals (two rate-limit buckets).
    let a = t.verify(&t.mint("acme", None, Duration::from_secs(60)).unwrap()).unwrap();
    assert_ne!(a.id, p.id);
}

#[test]
fn tampered_foreign_and_expired_tokens_are_refused() {
    let t = tokens();
    let token = t.mint("acme", None, Duration::from_secs(60)).unwrap();
    // Another tenant in the payload, same signature.
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(base64url_decode(parts[1])).unwrap().replace("\"acme\"", "\"globex\"");
    let forged = format!("{}.{}.{}", parts[0], base64url_encode(payload.as_bytes()), parts[2]);
    assert!(t.verify(&forged).is_err(), "a changed payload");
    // Signed with another secret.
    let other = ViewerTokens::new(b"another secret, also 32 bytes or more").unwrap();
    assert!(t.verify(&other.mint("acme", None, Duration::from_secs(60)).unwrap()).is_err());
    // Not a viewer token at all, or the prefix stripped.
    assert!(t.verify(token.trim_start_matches("alv1_")).is_err());
    assert!(t.verify("alv1_not.a.jwt").is_err());
    // Expired (no leeway).
    let short = t.mint("acme", None, Duration::from_secs(1)).unwrap();
    assert!(t.verify(&short).is_ok());
    std::thread::sleep(Duration::from_millis(2100));
    let err = t.verify(&short).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_forces_a_viewer_tokens_tenant_and_actor_and_refuses_writes() {
    let t = tokens();
    let s = Server::start(Some(t.clone().into())).await;
    let acme = t.mint("acme", None, Duration::from_secs(60)).unwrap();
    let items = s.items(&acme, "/activities?limit=100").await;
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(|a| a["tenant"] == "acme"));
    // Asking for another tenant is refused, not widened.
    assert_eq!(s.get(&acme, "/activities?tenant=globex").await.status(), StatusCode::FORBIDDEN);
    // Another tenant's activity by id is not found.
    let globex_id =
        s.items("host-ops", "/activities?tenant=globex&limit=1").await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.get(&acme, &format!("/activities/{globex_id}")).await.status(), StatusCode::NOT_FOUND);
    // One actor's token sees only that actor's.
    let ann = t.mint("acme", Some("acme-user-1"), Duration::from_secs(60)).unwrap();
    let items = s.items(&ann, "/activities?limit=100").await;
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|a| a["actor"]["id"] == "acme-user-1"));
    assert_eq!(s.get(&ann, "/activities?actor=acme-user-0").await.status(), StatusCode::FORBIDDEN);
    let stats: Value = s.get(&ann, "/activities/stats").await.json().await.unwrap();
    assert_eq!(stats["total"], 5);
    // Never ingest, never admin.
    let post =
        |path: &str, body: Value| s.client.post(format!("{}{path}", s.base)).bearer_auth(&acme).json(&body).send();
    assert_eq!(post("/activities", json!({"activity_type": "x"})).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        post("/activities/retention", json!({"older_than_days": 1, "dry_run": true})).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // A token from another secret, or an expired one, is a 401 (never passed to the host's auth).
    let foreign = ViewerTokens::new(b"another secret, also 32 bytes or more").unwrap();
    let r = s.get(&foreign.mint("acme", None, Duration::from_secs(60)).unwrap(), "/activities").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The host's own credentials still work beside the viewer's.
    assert_eq!(s.items("host-ops", "/activities?limit=100").await.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_viewer_there_is_no_page_and_viewer_tokens_are_refused() {
    let s = Server::start(None).await;
    assert_eq!(s.client.get(format!("{}/ui", s.base)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let token = tokens().mint("acme", None, Duration::from_secs(60)).unwrap();
    assert_eq!(s.get(&token, "/activities").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_carry_a_strict_csp() {
    let s = Server::start(Some(tokens().into())).await;
    let page = s.client.get(format!("{}/ui?type=login", s.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    // No inline script or style: everything is a same-origin file.
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style="));
    let mut assets: Vec<String> = Vec::new();
    for attr in ["src=\"ui/", "href=\"ui/"] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            assets.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    assert!(assets.contains(&"main.js".to_owned()) && assets.contains(&"viewer.css".to_owned()));
    // main.js's imports, followed.
    let mut queue = assets.clone();
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let r = s.client.get(format!("{}/ui/{name}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(r.headers()["content-security-policy"].to_str().unwrap(), csp, "{name}");
        let expected = if name.ends_with(".js") { "text/javascript; charset=utf-8" } else { "text/css; charset=utf-8" };
        assert_eq!(r.headers()["content-type"], expected, "{name}");
        let etag = r.headers()["etag"].clone();
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("innerHTML") && !body.contains("insertAdjacentHTML") && !body.contains("eval("),
            "{name}"
        );
        for (i, _) in body.match_indices("from './") {
            let rest = &body[i + 8..];
            queue.push(rest[..rest.find('\'').unwrap()].to_owned());
        }
        // Revalidation.
        let again = s.client.get(format!("{}/ui/{name}", s.base)).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
    }
    assert!(seen.len() >= 10, "{seen:?}");
    // Unknown assets are 404s; `/ui/` goes back to `/ui`, keeping the fragment.
    assert_eq!(s.client.get(format!("{}/ui/secret.txt", s.base)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = no_redirects.get(format!("{}/ui/", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers()["location"], "../ui");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_ancestors_are_configurable_and_validated() {
    let viewer = Viewer::new(tokens()).frame_ancestors(["'self'", "https://app.example.com"]).unwrap();
    let s = Server::start(Some(viewer)).await;
    let page = s.client.get(format!("{}/ui", s.base)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self' https://app.example.com;"), "{csp}");
    assert!(page.headers().get("x-frame-options").is_none());
    let bad = Viewer::new(tokens()).frame_ancestors(["https://ok.example.com", "https://x.com; script-src *"]);
    assert_eq!(bad.unwrap_err().index, 1);
}

fn base64url_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        bits = (bits << 6) | alphabet.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn base64url_encode(bytes: &[u8]) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(alphabet[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
