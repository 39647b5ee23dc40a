//! `/staff/`: the store's screen, served by the service itself. Pages are
//! rendered here; every action calls the same domain functions with the same
//! authorization as the API (`Caller::may`, the store checks of `policy`),
//! as the key that signed the browser in.
//!
//! Sessions: a staff or admin key signs in once; the browser gets an
//! HttpOnly, SameSite=Strict cookie holding a random token (the database
//! keeps its hash) that expires with the session. Every form carries the
//! session's CSRF token, checked before anything is read from the form.

mod chart;
mod dashboard;
mod lookup;
mod pickups;
mod view;

use actix_web::http::header::{self, ContentType};
use actix_web::middleware::DefaultHeaders;
use actix_web::web::{self, Data, Form};
use actix_web::{HttpRequest, HttpResponse};
use maud::Markup;
use serde::Deserialize;

use super::auth::Caller;
use super::problem::ApiError;
use crate::access::{self, Role, SESSION_HOURS};
use crate::catalog::{self, Location};
use crate::context::Context;
use crate::db::AnyConnection;
use crate::secret;

const COOKIE: &str = "omnistock_staff";

/// The staff app's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Pages run only their own script and style, cannot be framed (no
    // clickjacking of a hand-over), and post only to themselves.
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'; form-action 'self'"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"));
    cfg.route("/staff", web::get().to(|| async { see_other("/staff/") })).service(
        web::scope("/staff")
            .wrap(headers)
            .route("/", web::get().to(home))
            .route("/sign-in", web::post().to(sign_in))
            .route("/sign-out", web::post().to(sign_out))
            .route("/app.js", web::get().to(|| asset("text/javascript; charset=utf-8", include_str!("app.js"))))
            .route("/app.css", web::get().to(|| asset("text/css; charset=utf-8", include_str!("app.css"))))
            .route("/pickups", web::get().to(pickups::page))
            .route("/pickups/queue", web::get().to(pickups::queue))
            .route("/pickups/{id}", web::get().to(pickups::detail))
            .route("/pickups/{id}/{action}", web::post().to(pickups::act))
            .route("/stock", web::get().to(lookup::stock))
            .route("/stock/{action}", web::post().to(lookup::change_stock))
            .route("/customers", web::get().to(lookup::customers))
            .route("/dashboard", web::get().to(dashboard::page)),
    );
}

/// What the pages read from their query string.
#[derive(Debug, Default, Deserialize)]
pub struct Query {
    /// The store an admin looks at (staff always see their own).
    pub store: Option<String>,
    /// What the last action did, or why it failed.
    pub ok: Option<String>,
    pub error: Option<String>,
    /// A lookup: SKU code or GTIN, email or phone.
    pub q: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A signed-in browser.
pub struct Signed {
    pub caller: Caller,
    pub csrf: String,
}

impl Signed {
    /// The header line: role and, for staff, the store.
    fn frame<'a>(&'a self, title: &'a str, who: &'a str, store_query: &'a str) -> view::Frame<'a> {
        view::Frame { title, who, csrf: &self.csrf, store_query }
    }

    /// The refusal of a form whose CSRF token is not this session's, or that
    /// another site's page sent.
    fn refuse_form(&self, req: &HttpRequest, form: &Form<Vec<(String, String)>>) -> Option<HttpResponse> {
        let sent = field(form, "csrf").unwrap_or_default();
        if secret::constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) && !cross_site(req) {
            None
        } else {
            let stale = "This form is out of date or was not sent by this app: reload the page and try again.";
            Some(html(actix_web::http::StatusCode::FORBIDDEN, view::failure(stale)))
        }
    }
}

/// A form field, trimmed.
fn field<'a>(form: &'a Form<Vec<(String, String)>>, name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
}

/// Why a page cannot be shown to this browser.
#[derive(Debug)]
pub enum NotSignedIn {
    /// No session, or an expired or revoked one: sign in first.
    SignIn,
    Failed(ApiError),
}

impl std::fmt::Display for NotSignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn => f.write_str("not signed in"),
            Self::Failed(error) => write!(f, "{error}"),
        }
    }
}

impl actix_web::ResponseError for NotSignedIn {
    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn => see_other("/staff/"),
            Self::Failed(error) => failed(error),
        }
    }
}

/// The session of the request's cookie; without one, the browser is sent to sign in.
impl actix_web::FromRequest for Signed {
    type Error = NotSignedIn;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, NotSignedIn>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = cookie(req);
        let ctx = req.app_data::<Data<Context>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(ctx)) = (token, ctx) else { return Err(NotSignedIn::SignIn) };
            let now = ctx.now();
            match ctx.db.read(move |conn| access::session(conn, &token, now)).await {
                Ok(Some(session)) => Ok(Signed { caller: Caller(session.principal), csrf: session.csrf_token }),
                Ok(None) => Err(NotSignedIn::SignIn),
                Err(error) => Err(NotSignedIn::Failed(ApiError::from(error))),
            }
        })
    }
}

fn cookie(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get(header::COOKIE)?.to_str().ok()?;
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Whether a browser says another site's page sent this request (`Origin`
/// names another origin). Browsers send `Origin` on every form post.
fn cross_site(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return false };
    let info = req.connection_info();
    origin != format!("{}://{}", info.scheme(), info.host())
}

/// The session cookie; `Secure` when the browser came over HTTPS (directly or
/// through a proxy that says so in `Forwarded`/`X-Forwarded-Proto`).
fn set_cookie(req: &HttpRequest, value: &str, max_age_seconds: i64) -> (header::HeaderName, String) {
    let secure = if req.connection_info().scheme() == "https" { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={value}; Path=/staff; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}");
    (header::SET_COOKIE, cookie)
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_owned())).finish()
}

/// `path` with its query parameters, encoded.
pub fn link(path: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

fn html(status: actix_web::http::StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

fn failed(error: &ApiError) -> HttpResponse {
    html(error.status(), view::failure(error.detail()))
}

/// A page: the store it shows (if any) and its content.
pub struct Page {
    pub store: Option<Location>,
    pub body: Markup,
}

/// Renders a page's outcome in the app's frame, or what went wrong.
fn render(signed: &Signed, title: &str, outcome: Result<Page, ApiError>) -> HttpResponse {
    match outcome {
        Ok(page) => {
            let store = page.store.as_ref().map(|s| s.code.to_string());
            let who = match (&store, signed.caller.role) {
                (Some(code), Role::Staff) => format!("staff at {code}"),
                (Some(code), role) => format!("{role}, viewing {code}"),
                (None, role) => role.to_string(),
            };
            let query = match (&store, signed.caller.role) {
                (Some(code), Role::Admin) => link("", &[("store", code)]),
                _ => String::new(),
            };
            html(actix_web::http::StatusCode::OK, view::page(&signed.frame(title, &who, &query), page.body))
        }
        Err(error) => failed(&error),
    }
}

/// The store a page shows: a staff key's own; for an admin the one asked
/// for, else the first active store.
pub fn store_of(conn: &mut AnyConnection, caller: &Caller, asked: Option<&str>) -> Result<Location, ApiError> {
    if let Some(own) = &caller.location_id {
        let found = catalog::locations_by_ids(conn, std::slice::from_ref(own))?.into_iter().next();
        return found.ok_or_else(|| ApiError::not_found("this key's store no longer exists"));
    }
    match asked.filter(|a| !a.is_empty()) {
        Some(code) => Ok(catalog::get_location(conn, code)?),
        None => catalog::active_locations(conn)?
            .first()
            .cloned()
            .ok_or_else(|| ApiError::not_found("there are no active locations yet")),
    }
}

async fn home(signed: Option<Signed>) -> HttpResponse {
    match signed {
        Some(_) => see_other("/staff/pickups"),
        None => html(actix_web::http::StatusCode::OK, view::sign_in(None)),
    }
}

async fn sign_in(ctx: Data<Context>, req: HttpRequest, form: Form<Vec<(String, String)>>) -> HttpResponse {
    // Signing a victim's browser in as someone else (login CSRF) needs another site's form.
    if cross_site(&req) {
        return html(actix_web::http::StatusCode::FORBIDDEN, view::sign_in(Some("sign in from this app's own page")));
    }
    let key = field(&form, "key").unwrap_or_default().to_owned();
    let now = ctx.now();
    match ctx.db.write(move |conn| access::sign_in(conn, &key, now)).await {
        Ok((token, _)) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/staff/pickups"))
            .insert_header(set_cookie(&req, &token, SESSION_HOURS * 3600))
            .finish(),
        Err(error) => {
            let error = ApiError::from(error);
            html(actix_web::http::StatusCode::UNAUTHORIZED, view::sign_in(Some(error.detail())))
        }
    }
}

async fn sign_out(
    ctx: Data<Context>,
    signed: Signed,
    req: HttpRequest,
    form: Form<Vec<(String, String)>>,
) -> HttpResponse {
    if let Some(refused) = signed.refuse_form(&req, &form) {
        return refused;
    }
    let token = cookie(&req).unwrap_or_default();
    if let Err(error) = ctx.db.write(move |conn| access::sign_out(conn, &token)).await {
        return failed(&ApiError::from(error));
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/staff/"))
        .insert_header(set_cookie(&req, "", 0))
        .finish()
}

/// The app's script and style sheet, built into the binary: no CDN, works offline.
async fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).insert_header((header::CACHE_CONTROL, "max-age=3600")).body(body)
}
