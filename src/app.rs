//! The top of the crate: assembles every feature's router with the cross-cutting layers and
//! serves on a listener the caller bound (tests bind `127.0.0.1:0` and talk HTTP to the real
//! thing). The shared state lives in [`crate::state`]; the background jobs in [`crate::jobs`].

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::auth::session_store::DbSessionStore;
use crate::state::AppState;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The whole application: feature routers merged, then the cross-cutting layers.
pub fn router(state: AppState) -> Router {
    let config = &state.config;
    let store = DbSessionStore::new(
        state.db.clone(),
        state.sessions.clone(),
        state.clock.clone(),
    );
    let session_layer = SessionManagerLayer::new(store)
        .with_name("trivsel_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies())
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            config.session_idle_minutes,
        )));

    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };

    Router::new()
        .merge(crate::home::router())
        .merge(crate::auth::routes::router())
        .merge(crate::auth::account::router())
        .merge(crate::auth::totp::router())
        .merge(crate::auth::sso::router())
        .merge(crate::org::routes::router())
        .merge(crate::assessment::routes::router())
        .merge(crate::consent::routes::router())
        .merge(crate::alerts::routes::router())
        .merge(crate::overview::routes::router())
        .merge(crate::audit::routes::router())
        .merge(crate::notify::routes::router())
        .merge(crate::access_report::router())
        .merge(crate::retention::routes::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::csrf::protect,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::admin_area,
        ))
        .layer(session_layer)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .merge(crate::web::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), record_route))
        .fallback(|| async { crate::error::AppError::NotFound })
        .layer(middleware::map_response(friendly_rejections))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The route pattern (never the concrete path) is recorded once routing has
            // matched: ids stay out of the logs and the cardinality stays low.
            tracing::info_span!(
                "request",
                method = %req.method(),
                route = tracing::field::Empty,
                user_id = tracing::field::Empty,
            )
        }))
        .with_state(state)
}

/// A request the extractors refused (a malformed id such as `/groups/abc`, a form missing a
/// field) gets the service's bilingual error page, never the framework's plain-text English
/// message: a path that does not parse names nothing, so 404; anything else 400.
async fn friendly_rejections(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/plain"));
    let status = response.status();
    if !plain
        || !matches!(
            status,
            StatusCode::BAD_REQUEST
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
                | StatusCode::UNPROCESSABLE_ENTITY
        )
    {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    if body.starts_with(b"Invalid URL") {
        crate::error::AppError::NotFound.into_response()
    } else {
        crate::error::AppError::BadRequest("malformed request").into_response()
    }
}

/// Names the request's span by its route pattern and times it for the metrics.
async fn record_route(
    axum::extract::State(state): axum::extract::State<AppState>,
    path: MatchedPath,
    req: Request,
    next: middleware::Next,
) -> axum::response::Response {
    tracing::Span::current().record("route", path.as_str());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let labels = crate::metrics::RequestLabels {
        route: path.as_str().to_string(),
        method,
        status: response.status().as_u16(),
    };
    state
        .metrics
        .requests
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The metrics, for a scraper that sends `Authorization: Bearer <metrics_token>`.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use subtle::ConstantTimeEq;
    let Some(token) = &state.config.metrics_token else {
        return crate::error::AppError::NotFound.into_response();
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = secrecy::ExposeSecret::expose_secret(token);
    if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "",
        )
            .into_response();
    }
    match scrape(&state).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => crate::error::AppError::Internal(e).into_response(),
    }
}

/// Reads the figures that are counted when scraped, then encodes everything.
async fn scrape(state: &AppState) -> anyhow::Result<String> {
    let m = &state.metrics;
    m.database_ready.set(i64::from(state.database_ready()));
    for (pool, in_use, idle) in state.db.pool_usage() {
        m.connections
            .get_or_create(&crate::metrics::PoolLabels {
                pool,
                state: "in_use",
            })
            .set(i64::from(in_use));
        m.connections
            .get_or_create(&crate::metrics::PoolLabels {
                pool,
                state: "idle",
            })
            .set(i64::from(idle));
    }
    let now = state.now();
    let depth = {
        let mut c = state.db.conn().await?;
        crate::notify::depth(&mut c).await?
    };
    m.outbox_undelivered.set(depth.undelivered);
    m.outbox_given_up.set(depth.given_up);
    m.outbox_oldest_seconds
        .set(depth.oldest.map_or(0, |at| (now - at).num_seconds().max(0)));
    Ok(m.encode()?)
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and takes a write, within a second.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match state.check_database().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// While the last readiness check failed, every page answers at once with "try again in a
/// moment" (503) instead of waiting for a database that is not there. The health job checks
/// every second, so the pages follow the database within about a second either way.
async fn gate(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: middleware::Next,
) -> axum::response::Response {
    if state.database_ready() {
        next.run(req).await
    } else {
        crate::error::AppError::Unavailable.into_response()
    }
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let jobs = crate::jobs::Jobs::start(&state)?;
    let app = router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    drop(jobs);
    result.map_err(Into::into)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
