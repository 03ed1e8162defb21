//! What the dashboard's tests share: jobs to show, requests through the router,
//! and a cookie jar.

#![allow(dead_code, unreachable_pub, missing_docs)] // each test file uses part of it

pub mod browser;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use kiribi::{JobContext, job};
use tower::ServiceExt;

/// Markup an attacker would like the dashboard to run.
pub const HOSTILE: &str = r#"<script>alert("x")</script><img src=x onerror='alert(1)'> & "quoted""#;

#[job(max_attempts = 1)]
pub async fn hostile(ctx: JobContext, note: String) -> Result<String, String> {
    ctx.log(format!("log line {note}"));
    Err(format!("failed with {note}"))
}

#[job(max_attempts = 3)]
pub async fn mail(to: String) -> Result<String, String> {
    Ok(format!("sent to {to}"))
}

/// Fails its first attempt, succeeds on every later one: retried by hand, it
/// succeeds.
#[job(max_attempts = 1)]
pub async fn flaky(ctx: JobContext, label: String) -> Result<String, String> {
    if ctx.attempt() == 1 {
        Err(format!("{label}: first attempt fails"))
    } else {
        Ok(format!("{label}: done on attempt {}", ctx.attempt()))
    }
}

/// An answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The `Set-Cookie` values, `name=value` only.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
            .collect()
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self
            .body
            .find(marker)
            .expect("the page has a form with a CSRF token")
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

/// A browser of sorts: requests through the router, keeping its cookies.
pub struct Client {
    pub router: Router,
    pub cookies: Vec<String>,
    pub headers: Vec<(String, String)>,
}

impl Client {
    pub fn new(router: Router) -> Self {
        Self {
            router,
            cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub async fn send(&mut self, method: &str, path: &str, form: Option<&str>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            request = request.header(header::COOKIE, self.cookies.join("; "));
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let body = match form {
            Some(form) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(form.to_owned())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let answer = Answer {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).expect("pages are UTF-8"),
        };
        for cookie in answer.cookies() {
            let name = cookie.split('=').next().unwrap_or("").to_owned();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(cookie);
        }
        answer
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, form: &str) -> Answer {
        self.send("POST", path, Some(form)).await
    }
}

/// A form body from pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}
