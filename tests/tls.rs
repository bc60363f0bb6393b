//! HTTPS over real TLS on 127.0.0.1: a client that trusts the self-signed certificate uses the
//! whole API; one that does not, or that speaks plain HTTP, gets nothing and the server carries
//! on; bad certificate or key files are named; and `tls-cert` then `serve --tls-cert --tls-key`
//! works end to end as a user would run them.

mod common;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use common::*;
use keystroke_workbench::api::ApiConfig;
use keystroke_workbench::server::{ServerError, ServerHandle, TlsFiles, self_signed};
use keystroke_workbench::store::Store;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// A client configuration that trusts exactly the certificates in `cert_pem`.
fn client_trusting(cert_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS connection to `addr`, checked against `name`.
fn connect(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    name: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let name = ServerName::try_from(name.to_string()).unwrap();
    let connection = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
    let socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    rustls::StreamOwned::new(connection, socket)
}

/// Sends `raw` over a new TLS connection and reads the answer; `Err` if the handshake fails.
fn https(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, raw: &[u8]) -> io::Result<Reply> {
    let mut tls = connect(addr, config, "127.0.0.1");
    tls.write_all(raw)?;
    read_reply(&mut tls).ok_or_else(|| io::Error::other("no HTTP answer"))
}

fn write_pair(dir: &Path, hosts: &[&str]) -> (TlsFiles, Vec<u8>) {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let pair = self_signed(&hosts, today(), 30).unwrap();
    let files = TlsFiles::in_dir(dir);
    std::fs::write(&files.cert, &pair.cert_pem).unwrap();
    std::fs::write(&files.key, &pair.key_pem).unwrap();
    (files, pair.cert_pem.into_bytes())
}

fn start(store_dir: &Path, tls: TlsFiles) -> Result<ServerHandle, ServerError> {
    let store = Arc::new(Store::open(store_dir).unwrap());
    serve_store(store, ApiConfig::default(), Some(tls))
}

#[test]
fn a_client_that_trusts_the_certificate_uses_the_whole_api() {
    let dir = tempfile::tempdir().unwrap();
    let (files, cert) = write_pair(dir.path(), &["localhost", "127.0.0.1"]);
    let server = start(&dir.path().join("models"), files).unwrap();
    let addr = server.addr();
    assert_eq!(server.urls(), [format!("https://{addr}")]);
    let client = client_trusting(&cert);

    let health = https(
        addr,
        &client,
        &raw_request(addr, "GET", "/health", &[], b""),
    )
    .unwrap();
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "healthy");

    // Keep-alive: enrolment and a prediction on one TLS connection.
    let mut tls = connect(addr, &client, "localhost");
    for i in 0..5 {
        let body = sample_body("alice", genuine(i)).to_string();
        let raw = format!(
            "POST /train HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(raw.as_bytes()).unwrap();
        let reply = read_reply(&mut tls).expect("an answer on the same connection");
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["samples_count"], i + 1);
    }
    let body = sample_body("alice", genuine(50)).to_string();
    let raw = raw_request(addr, "POST", "/predict", &[], body.as_bytes());
    let reply = https(addr, &client, &raw).unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["confidence_score"].is_f64());
}

#[test]
fn untrusted_clients_and_plain_http_get_nothing_and_the_server_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let (files, cert) = write_pair(dir.path(), &["127.0.0.1"]);
    let server = start(&dir.path().join("models"), files).unwrap();
    let addr = server.addr();
    let health = raw_request(addr, "GET", "/health", &[], b"");

    // Another self-signed certificate is not this one.
    let other = self_signed(&["127.0.0.1".to_string()], today(), 30).unwrap();
    let stranger = client_trusting(other.cert_pem.as_bytes());
    let error = https(addr, &stranger, &health).unwrap_err();
    assert!(error.to_string().contains("certificate"), "{error}");

    // The right certificate under a name it was not issued for.
    let client = client_trusting(&cert);
    let mut wrong_name = connect(addr, &client, "example.org");
    assert!(wrong_name.write_all(&health).is_err());

    // Plain HTTP to the HTTPS port: no HTTP answer.
    assert!(try_send_raw(addr, &health).is_none());

    assert_eq!(https(addr, &client, &health).unwrap().status, 200);
}

#[test]
fn bad_certificate_or_key_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = write_pair(dir.path(), &["127.0.0.1"]);
    let models = dir.path().join("models");
    let error = |tls: TlsFiles| start(&models, tls).err().expect("refused").to_string();

    let missing = TlsFiles {
        cert: dir.path().join("nope.pem"),
        key: files.key.clone(),
    };
    let message = error(missing);
    assert!(
        message.starts_with("cannot read ") && message.contains("nope.pem"),
        "{message}"
    );

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let message = error(TlsFiles {
        cert: files.cert.clone(),
        key: garbage.clone(),
    });
    assert!(
        message.contains("garbage.pem") && message.contains("private key"),
        "{message}"
    );

    let message = error(TlsFiles {
        cert: garbage,
        key: files.key.clone(),
    });
    assert!(message.contains("no PEM certificate"), "{message}");

    // The key of another pair.
    let other = tempfile::tempdir().unwrap();
    let (other_files, _) = write_pair(other.path(), &["127.0.0.1"]);
    let message = error(TlsFiles {
        cert: files.cert.clone(),
        key: other_files.key,
    });
    assert!(message.contains("does not belong"), "{message}");
}

#[test]
fn tls_cert_then_serve_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls");
    let bin = env!("CARGO_BIN_EXE_keystroke-workbench");
    let made = Command::new(bin)
        .args(["tls-cert", "--host", "kw.lan", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(stdout.contains("SHA-256 fingerprint: "), "{stdout}");
    assert!(
        stdout.contains("kw.lan") && stdout.contains("127.0.0.1"),
        "{stdout}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
    }
    // Never over an existing pair.
    let again = Command::new(bin)
        .args(["tls-cert", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    let half = Command::new(bin)
        .args(["serve", "--port", "0", "--tls-cert"])
        .arg(out.join("cert.pem"))
        .output()
        .unwrap();
    assert!(!half.status.success());
    assert!(String::from_utf8_lossy(&half.stderr).contains("--tls-cert needs --tls-key"));

    let (cert, key) = (out.join("cert.pem"), out.join("key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let env = [
        ("KW_TLS_CERT", cert),
        ("KW_TLS_KEY", key),
        ("KW_LOG", "warn"),
    ];
    let (_serve, addr, _) = spawn_serve_with_scheme(&dir.path().join("models"), &env, "https://");
    let client = client_trusting(&std::fs::read(cert).unwrap());
    let health = https(
        addr,
        &client,
        &raw_request(addr, "GET", "/health", &[], b""),
    )
    .unwrap();
    assert_eq!(health.status, 200);
}
