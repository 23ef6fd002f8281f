//! What `ActivityLayer` costs an HTTP service: requests per second of a
//! trivial axum handler with the layer (context from the request, and one
//! `api_request` activity per request into a `MemorySink`-backed logger)
//! against the same handler bare, served from this process over loopback.
//!
//! 64 keep-alive HTTP/1.1 connections each send a request, read the whole
//! response, and send the next, for a fixed time per round; the variants
//! alternate over several rounds (which one goes first rotates too).
//! The ratio is the median of the rounds' ratios (each round's runs are
//! back to back, so load from other processes mostly cancels out); the
//! requests per second are the medians of each variant. The client is a minimal one written on
//! `TcpStream` so that it costs little of the two cores the server shares
//! with it. After each round with the layer, the logger is flushed and the
//! sink must hold exactly one activity per request answered.
//!
//! Prints `BENCH http_layer_ratio=... http_bare_rps=... http_layer_rps=...
//! http_layer_ctx_ratio=...` (ratio = layer / bare; goal >= 0.90). The
//! last is a third variant run in the same rounds, the layer with the
//! context only (no `api_request` activity), to tell what the context
//! costs from what recording costs.
//!
//! Then, to tell the layer's own cost from the loopback's noise, the
//! nanoseconds the layer adds to one call of an in-process `service_fn`
//! (no network), with the context only and with the `api_request` activity
//! too (its `log_async` included, the logger's worker not):
//! `BENCH http_layer_ctx_ns=... http_layer_record_ns=...`, medians.

use activity_log::http::ActivityLayer;
use activity_log::{ActivityLogger, MemorySink};
use axum::routing::get;
use axum::Router;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service, ServiceExt};

const CONNECTIONS: usize = 64;
const ROUNDS: usize = 15;
const ROUND: Duration = Duration::from_millis(700);
const REQUEST: &[u8] = b"GET /calls/42 HTTP/1.1\r\nhost: bench\r\nuser-agent: http-layer-bench/1\r\n\r\n";

fn app() -> Router {
    Router::new().route("/calls/{id}", get(|| async { "ok" }))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve");
    });
    addr
}

/// Runs `CONNECTIONS` keep-alive clients against `addr` for `ROUND`;
/// returns the requests answered and the time taken.
async fn round(addr: SocketAddr) -> (u64, Duration) {
    let mut streams = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        streams.push(stream);
    }
    let start = Instant::now();
    let deadline = start + ROUND;
    let tasks: Vec<_> = streams.into_iter().map(|stream| tokio::spawn(client(stream, deadline))).collect();
    let mut answered = 0;
    for task in tasks {
        answered += task.await.expect("client task");
    }
    (answered, start.elapsed())
}

/// One keep-alive connection: request, whole response, repeat until
/// `deadline`. Returns the responses read.
async fn client(mut stream: TcpStream, deadline: Instant) -> u64 {
    let mut buf = Vec::with_capacity(1024);
    let mut answered = 0;
    while Instant::now() < deadline {
        stream.write_all(REQUEST).await.expect("write");
        buf.clear();
        loop {
            if let Some(len) = response_len(&buf) {
                assert!(buf.starts_with(b"HTTP/1.1 200"), "unexpected response");
                assert_eq!(buf.len(), len, "one response at a time");
                break;
            }
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
        answered += 1;
    }
    answered
}

/// The length of the response at the start of `buf` (head and
/// `content-length` body) once it is all there.
fn response_len(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&buf[..head]).ok()?;
    let body = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head + body).then_some(head + body)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let sink = MemorySink::new();
        let logger =
            ActivityLogger::builder().sink(sink.clone()).queue_capacity(1 << 20).build().expect("logger builds");
        let layer = ActivityLayer::builder().record_requests(true).logger(logger.clone()).build().expect("layer");
        let bare = serve(app()).await;
        let context_only = serve(app().layer(ActivityLayer::new())).await;
        let layered = serve(app().layer(layer)).await;

        // Warm up all three (connections, allocator, the logger's worker).
        for addr in [bare, context_only, layered] {
            round(addr).await;
        }
        logger.flush().await.expect("flush");
        sink.clear();

        // Per variant (bare, context only, with the record): requests per
        // second of each round.
        let mut rps: [Vec<f64>; 3] = Default::default();
        for r in 0..ROUNDS {
            for variant in (0..3).map(|i| (i + r) % 3) {
                let (answered, took) = round([bare, context_only, layered][variant]).await;
                rps[variant].push(answered as f64 / took.as_secs_f64());
                if variant == 2 {
                    logger.flush().await.expect("flush");
                    assert_eq!(sink.len() as u64, answered, "one api_request activity per request");
                    sink.clear();
                }
                eprintln!("round {r} {}: {:.0} req/s", ["bare", "context", "layer"][variant], rps[variant][r]);
            }
        }
        let ratio = |variant: usize| median(rps[variant].iter().zip(&rps[0]).map(|(v, bare)| v / bare).collect());
        let (bare, layer) = (median(rps[0].clone()), median(rps[2].clone()));
        println!(
            "BENCH http_layer_ratio={:.3} http_bare_rps={bare:.0} http_layer_rps={layer:.0} http_layer_ctx_ratio={:.3}",
            ratio(2),
            ratio(1)
        );
        let (ctx_ns, record_ns) = in_process(&logger, &sink).await;
        println!("BENCH http_layer_ctx_ns={ctx_ns:.0} http_layer_record_ns={record_ns:.0}");
        let report = logger.shutdown(Duration::from_secs(5)).await;
        assert_eq!(report.unwritten, 0);
    });
}

/// The nanoseconds per call the layer adds to a trivial in-process
/// service: (context only, context and `api_request`), medians of
/// interleaved samples.
async fn in_process(logger: &ActivityLogger, sink: &MemorySink) -> (f64, f64) {
    const SAMPLES: usize = 15;
    const CALLS: u32 = 20_000;
    let inner = tower::service_fn(|_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) });
    let context_only = ActivityLayer::new().layer(inner);
    let layer = ActivityLayer::builder().record_requests(true).logger(logger.clone()).build().expect("layer");
    let recording = layer.layer(inner);
    let (mut ctx, mut record) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let bare = per_call(inner, CALLS).await;
        ctx.push(per_call(context_only.clone(), CALLS).await - bare);
        record.push(per_call(recording.clone(), CALLS).await - bare);
        logger.flush().await.expect("flush");
        assert_eq!(sink.len() as u32, CALLS, "one api_request activity per call");
        sink.clear();
    }
    (median(ctx), median(record))
}

async fn per_call<S>(mut service: S, calls: u32) -> f64
where
    S: Service<http::Request<()>, Response = http::Response<()>, Error = Infallible>,
{
    let start = Instant::now();
    for _ in 0..calls {
        let request = http::Request::get("/calls/42").header("user-agent", "http-layer-bench/1").body(());
        let response = service.ready().await.expect("ready").call(request.expect("request")).await;
        std::hint::black_box(response.expect("infallible"));
    }
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}
