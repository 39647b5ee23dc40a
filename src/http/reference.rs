//! The interactive API reference at `/`: Swagger UI over `/openapi.json`.
//! Its assets are vendored in `api-spec/reference/` and compiled in, so the
//! reference works offline and always matches the served contract.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Path;
use actix_web::{HttpResponse, Responder};

use super::problem::ApiError;

const BUNDLE: &[u8] = include_bytes!("../../api-spec/reference/swagger-ui-bundle.js");
const STYLES: &[u8] = include_bytes!("../../api-spec/reference/swagger-ui.css");

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>omnistock API reference</title>
  <link rel="stylesheet" href="/reference/swagger-ui.css">
  <style>body { margin: 0 } .omnistock { font: 14px sans-serif; padding: 8px 20px; background: #1b1b1b; color: #eee }
  .omnistock a { color: #9cf }</style>
</head>
<body>
  <div class="omnistock">omnistock: one order and inventory service for every channel.
    The contract: <a href="/openapi.json">/openapi.json</a>. Authorize with an API key (<code>osk_…</code>) to try calls.</div>
  <div id="reference"></div>
  <script src="/reference/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#reference", deepLinking: true, persistAuthorization: true });
  </script>
</body>
</html>
"##;

/// `GET /`: the reference page.
pub async fn page() -> impl Responder {
    HttpResponse::Ok().insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(PAGE)
}

/// `GET /reference/{file}`: the vendored assets, cached for a day.
pub async fn asset(file: Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, kind) = match file.as_str() {
        "swagger-ui-bundle.js" => (BUNDLE, "text/javascript"),
        "swagger-ui.css" => (STYLES, "text/css"),
        other => return Err(ApiError::route_not_found(format!("there is no reference asset '{other}'"))),
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, kind))
        .insert_header((CACHE_CONTROL, "public, max-age=86400"))
        .body(body))
}
