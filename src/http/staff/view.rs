//! The staff app's HTML. Every value is escaped by maud; pages are usable on
//! a tablet in one hand (one column, 48 px targets) and by keyboard alone
//! (real links, buttons and labelled fields; a skip link; visible focus).

use maud::{DOCTYPE, Markup, html};

/// The store and role line of the header, and the CSRF token of the forms.
pub struct Frame<'a> {
    pub title: &'a str,
    /// Who is signed in, e.g. "staff at BER-MITTE".
    pub who: &'a str,
    pub csrf: &'a str,
    /// The `?store=` of links for admins, who pick a store; empty for staff.
    pub store_query: &'a str,
}

/// A document: the head every page shares, then `body`.
fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · omnistock staff" }
                link rel="stylesheet" href="/staff/app.css";
                script src="/staff/app.js" defer {}
            }
            (body)
        }
    }
}

/// A whole page around `body`.
pub fn page(frame: &Frame<'_>, body: Markup) -> Markup {
    let q = frame.store_query;
    document(
        frame.title,
        html! {
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Staff app" {
                        a href={ "/staff/pickups" (q) } { "Pickups" }
                        a href={ "/staff/stock" (q) } { "Stock" }
                        a href={ "/staff/customers" (q) } { "Customers" }
                        a href={ "/staff/dashboard" (q) } { "Dashboard" }
                    }
                    span.who { (frame.who) }
                    form.inline method="post" action="/staff/sign-out" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button.secondary type="submit" { "Sign out" }
                    }
                }
                main #main { h1 { (frame.title) } (body) }
            }
        },
    )
}

/// The sign-in page, with what went wrong if anything did.
pub fn sign_in(problem: Option<&str>) -> Markup {
    document(
        "Sign in",
        html! {
            body {
                main #main {
                    h1 { "omnistock staff" }
                    @if let Some(problem) = problem { p.note.error role="alert" { (problem) } }
                    form method="post" action="/staff/sign-in" {
                        label for="key" { "Staff or admin API key" }
                        input #key type="password" name="key" autocomplete="current-password" required autofocus;
                        p { button type="submit" { "Sign in" } }
                    }
                    p { "You stay signed in for one shift (12 hours) on this device." }
                }
            }
        },
    )
}

/// What the last action did, from the `ok` or `error` of the URL.
pub fn notes(ok: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(ok) = ok { p.note.ok role="status" { (ok) } }
        @if let Some(error) = error { p.note.error role="alert" { (error) } }
    }
}

/// A form posting to `action` with the session's CSRF token and `fields`.
pub fn form(csrf: &str, action: &str, fields: Markup, button: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            (fields)
            button type="submit" { (button) }
        }
    }
}

/// The error page of a request that failed before it had anything to show.
pub fn failure(detail: &str) -> Markup {
    document(
        "Error",
        html! { body { main #main { p.note.error role="alert" { (detail) } p { a href="/staff/" { "Back to the staff app" } } } } },
    )
}
