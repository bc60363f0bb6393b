//! Shared by the examples: a typing of a fixed phrase, and a minimal keep-alive HTTP client.
// Each example uses a part of this module.
#![allow(dead_code)]

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
        let hold = 80.0 + wobble + variant as f64 * 1e-12;
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

/// An impostor's typing of the phrase: slow holds and flights, varied by `variant` so no two
/// are alike.
pub fn impostor_sample(variant: usize) -> Value {
    let mut events = Vec::new();
    let mut t = 1000.0;
    for (i, key) in PHRASE.iter().enumerate() {
        events.push(json!({"key": key, "event": "down", "timestamp": t}));
        let hold = 240.0 + (i % 3) as f64 * 40.0 + variant as f64 * 1e-6;
        events.push(json!({"key": key, "event": "up", "timestamp": t + hold}));
        t += 420.0 + (i % 4) as f64 * 60.0;
    }
    Value::Array(events)
}

/// One answer: its status, whether the server closes the connection after it, and the body.
pub struct Answer {
    pub status: u16,
    pub closes: bool,
}

/// Sends `request` and reads one answer; returns its status.
pub fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> u16 {
    exchange_on(stream, request, buffer).status
}

/// [`exchange`] on any stream (plain or TLS), with whether the connection closes after it.
pub fn exchange_on(stream: &mut impl ReadWrite, request: &[u8], buffer: &mut Vec<u8>) -> Answer {
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
            let closes = head.to_ascii_lowercase().contains("\r\nconnection: close");
            return Answer {
                status: head[9..12].parse().unwrap(),
                closes,
            };
        }
    }
}

/// A byte stream both ways.
pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}
