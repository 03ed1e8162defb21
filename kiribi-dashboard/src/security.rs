//! What every request passes before a page sees it: the token, the read-only mode,
//! the CSRF check of every action, and the headers every answer carries.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{KeyInit, Mac};

use crate::pages::{Ctx, refusal};

/// The largest action form read; a bulk action on selected jobs lists their ids.
const MAX_FORM_BYTES: usize = 1 << 20;
/// The cookie that remembers a token given once as `?token=`.
pub(crate) const TOKEN_COOKIE: &str = "kiribi_dashboard_token";
/// The cookie with this browser's CSRF nonce; forms carry its HMAC.
pub(crate) const CSRF_COOKIE: &str = "kiribi_dashboard_csrf";
/// The form field with the CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The per-router secrets and settings the guard applies.
pub(crate) struct Guard {
    /// Keys the CSRF tokens and the token comparison; random for each router.
    secret: [u8; 32],
    /// The MAC of the configured token, compared with the MAC of the one presented
    /// so that the comparison takes the same time whatever the presented one is.
    token_mac: Option<[u8; 32]>,
    read_only: bool,
}

impl Guard {
    pub(crate) fn new(token: Option<&str>, read_only: bool) -> Self {
        let mut secret = [0u8; 32];
        // Without randomness no form token could be trusted: refuse to build the
        // router rather than run with a guessable secret.
        getrandom::fill(&mut secret).expect("the operating system's random number generator");
        let mut guard = Self {
            secret,
            token_mac: None,
            read_only,
        };
        // An empty token is kept as the MAC of nothing a request can present (the
        // empty string is never accepted below), so that it locks everyone out
        // rather than letting everyone in.
        guard.token_mac = token.map(|token| guard.mac(&[b"token:", token.as_bytes()]));
        guard
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC takes a key of any length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The form token for a browser's CSRF nonce.
    fn csrf_token(&self, nonce: &str) -> String {
        hex(&self.mac(&[b"csrf:", nonce.as_bytes()]))
    }

    fn token_matches(&self, presented: &str) -> bool {
        match self.token_mac {
            None => true,
            Some(_) if presented.is_empty() => false,
            Some(expected) => same(&expected, &self.mac(&[b"token:", presented.as_bytes()])),
        }
    }
}

/// Runs before every route: authenticates, issues the CSRF cookie, refuses actions
/// in read-only mode and actions without the right CSRF token, and adds the
/// security headers to the answer.
pub(crate) async fn guard(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    let base = base_path(&request);
    let cookie_path = if base.is_empty() {
        "/".to_owned()
    } else {
        base.clone()
    };
    let cookies = Cookies::of(request.headers());

    if guard.token_mac.is_some() {
        let query_token = query_value(request.uri().query(), "token");
        if let Some(presented) = &query_token
            && guard.token_matches(presented)
            && request.method() == Method::GET
        {
            // Remember it in a cookie and take it out of the address bar (and so
            // out of the history and of any Referer).
            let cookie = format!(
                "{TOKEN_COOKIE}={}; Path={cookie_path}; HttpOnly; SameSite=Strict",
                encode_cookie(presented)
            );
            let location = without_query_key(&request, "token");
            return secure(
                (
                    StatusCode::SEE_OTHER,
                    [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
                )
                    .into_response(),
            );
        }
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        let from_cookie = cookies.get(TOKEN_COOKIE).map(decode_cookie);
        let authorized = [bearer.map(str::to_owned), from_cookie, query_token]
            .iter()
            .flatten()
            .any(|presented| guard.token_matches(presented));
        if !authorized {
            let mut response = refusal(
                StatusCode::UNAUTHORIZED,
                "A token is needed",
                "This dashboard needs its token: open it once with ?token=… added to the \
                 address, or send an Authorization: Bearer … header.",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"kiribi dashboard\""),
            );
            return secure(response);
        }
    }

    let presented_nonce = cookies
        .get(CSRF_COOKIE)
        .filter(|nonce| nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    let (nonce, new_nonce) = match presented_nonce.clone() {
        Some(nonce) => (nonce, false),
        None => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).expect("the operating system's random number generator");
            (hex(&bytes), true)
        }
    };
    let csrf = guard.csrf_token(&nonce);

    let mut request = request;
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        if guard.read_only {
            return secure(refusal(
                StatusCode::FORBIDDEN,
                "Read-only",
                "This dashboard is read-only: it shows jobs but takes no actions.",
            ));
        }
        let (parts, body) = request.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return secure(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Form too large",
                "The form sent more than a megabyte; select fewer jobs, or act on a filter.",
            ));
        };
        let sent = form_urlencoded::parse(&bytes)
            .find(|(key, _)| key == CSRF_FIELD)
            .map(|(_, value)| value.into_owned());
        // The token must be the one for the nonce this browser already had: a
        // request without the cookie (a cross-site form, SameSite) fails here.
        let valid = presented_nonce.is_some()
            && sent.is_some_and(|sent| same(sent.as_bytes(), csrf.as_bytes()));
        if !valid {
            return secure(refusal(
                StatusCode::FORBIDDEN,
                "Expired or forged form",
                "The form's security token is missing or wrong. Reload the page and try again.",
            ));
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }

    request.extensions_mut().insert(Ctx {
        base,
        csrf,
        read_only: guard.read_only,
    });
    let mut response = next.run(request).await;
    if new_nonce {
        let cookie =
            format!("{CSRF_COOKIE}={nonce}; Path={cookie_path}; HttpOnly; SameSite=Strict");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    secure(response)
}

/// Adds the headers every answer carries: no script, style or frame from elsewhere,
/// no sniffing, and no Referer (an address may have held a token).
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Where the dashboard is mounted: the part of the original path before the
/// router's own (`/admin/jobs` under `nest("/admin/jobs", …)`, empty at the root).
fn base_path(request: &Request) -> String {
    let inner = request.uri().path();
    let original = request
        .extensions()
        .get::<OriginalUri>()
        .map_or(inner, |uri| uri.0.path());
    let base = if inner == "/" {
        original.trim_end_matches('/')
    } else {
        original.strip_suffix(inner).unwrap_or("")
    };
    base.to_owned()
}

/// The request's original path and query, less the parameter `key`.
fn without_query_key(request: &Request, key: &str) -> String {
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().clone(), |uri| uri.0.clone());
    let kept: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(name, _)| name != key)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let path = uri.path();
    if kept.is_empty() {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("{path}?{query}")
}

fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

/// The cookies of a request, by name (the first of a name wins).
struct Cookies(Vec<(String, String)>);

impl Cookies {
    fn of(headers: &HeaderMap) -> Self {
        let mut cookies = Vec::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        Self(cookies)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A cookie value for any token: percent-encoded (cookie values take no `;`, `,`,
/// spaces or quotes).
fn encode_cookie(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn decode_cookie(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// Equal bytes, compared in a time that depends on the length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_value_and_an_empty_one_admits_nobody() {
        let guard = Guard::new(Some("s3cret"), false);
        assert!(guard.token_matches("s3cret"));
        assert!(!guard.token_matches("s3cre"));
        assert!(!guard.token_matches(""));
        let empty = Guard::new(Some(""), false);
        assert!(!empty.token_matches(""));
        assert!(Guard::new(None, false).token_matches("anything"));
    }

    #[test]
    fn csrf_tokens_differ_per_nonce_and_per_router() {
        let a = Guard::new(None, false);
        let b = Guard::new(None, false);
        assert_eq!(a.csrf_token("n1"), a.csrf_token("n1"));
        assert_ne!(a.csrf_token("n1"), a.csrf_token("n2"));
        assert_ne!(a.csrf_token("n1"), b.csrf_token("n1"));
    }

    #[test]
    fn cookie_values_round_trip_any_token() {
        for token in ["plain", "a;b c,\"d\"", "ünï=code"] {
            assert_eq!(decode_cookie(&encode_cookie(token)), token);
        }
    }
}
