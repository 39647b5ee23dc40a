//! A marketplace peer for the tests: a real HTTP/1.1 server on a local port
//! that answers by rules and records every request it receives.
//!
//! Written on tokio's sockets rather than taken from a mocking crate so that
//! the test build compiles nothing the service's own build has not (a mock
//! server crate brings an HTTP server stack with other features).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One request as the peer received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

struct Rule {
    method: &'static str,
    path_prefix: String,
    status: u16,
    body: String,
    /// How many more requests the rule answers; `None` for every one.
    left: Option<usize>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Peer {
    uri: String,
    state: Arc<Mutex<State>>,
}

impl Peer {
    pub async fn start() -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Peer { uri, state }
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Answers `method` on paths starting with
    /// `path_prefix` with `status` and `body`. Rules are tried in the order
    /// they were added; a request no rule takes gets 404.
    pub fn answer(&self, method: &'static str, path_prefix: &str, status: u16, body: impl ToString) {
        self.add(method, path_prefix, status, body, None);
    }

    /// Like `answer`, for the next `times` matching requests only.
    pub fn answer_times(&self, method: &'static str, path_prefix: &str, status: u16, times: usize) {
        self.add(method, path_prefix, status, "", Some(times));
    }

    fn add(&self, method: &'static str, path_prefix: &str, status: u16, body: impl ToString, left: Option<usize>) {
        let rule = Rule { method, path_prefix: path_prefix.to_owned(), status, body: body.to_string(), left };
        self.state.lock().unwrap().rules.push(rule);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

/// Serves one keep-alive connection until the client closes it.
async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut stream = BufReader::new(stream);
    while let Some(request) = read_request(&mut stream).await {
        let (status, body) = answer(&state, request);
        let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(format!("{head}{body}").as_bytes()).await.is_err() {
            return;
        }
    }
}

fn answer(state: &Mutex<State>, request: Received) -> (u16, String) {
    let mut state = state.lock().unwrap();
    let rule = state
        .rules
        .iter_mut()
        .find(|r| r.method == request.method && request.path.starts_with(&r.path_prefix) && r.left != Some(0));
    let answer = rule.map_or((404, String::new()), |rule| {
        rule.left = rule.left.map(|n| n - 1);
        (rule.status, rule.body.clone())
    });
    state.received.push(request);
    answer
}

async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    stream.read_line(&mut line).await.ok().filter(|&n| n > 0)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?);
    let path = target.split('?').next().unwrap_or(target).to_owned();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        stream.read_line(&mut line).await.ok()?;
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(Received { method, path, headers, body })
}
