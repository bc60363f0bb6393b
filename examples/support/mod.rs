//! Shared by the examples: a typing of a fixed phrase, and a minimal keep-alive HTTP client.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};

/// The phrase typed: the CMU benchmark's password and Enter.
pub const PHRASE: [&str; 11] = [".", "t", "i", "e", "5", "R", "o", "a", "n", "l", "Enter"];

/// One typing of the phrase, varied by `variant`.
pub fn sample(variant: usize) -> Value {
    let mut events = Vec::new();
    let mut t = 1000.0;
    for (i, key) in PHRASE.iter().enumerate() {
        let wobble = ((variant * 7 + i * 13) % 17) as f64;
        events.push(json!({"key": key, "event": "down", "timestamp": t}));
        // The last term makes every variant distinct (the server refuses repeats as replays).
        let hold = 80.0 + wobble + variant as f64 * 1e-4;
        events.push(json!({"key": key, "event": "up", "timestamp": t + hold}));
        t += 170.0 + 2.0 * wobble;
    }
    Value::Array(events)
}

pub fn http_post(path: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: loadgen\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends `request` and reads one answer; returns its status.
pub fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> u16 {
    stream.write_all(request).expect("write");
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).unwrap().to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).expect("read body");
                assert!(n > 0, "server closed the connection");
                buffer.extend_from_slice(&chunk[..n]);
            }
            return head[9..12].parse().unwrap();
        }
    }
}
