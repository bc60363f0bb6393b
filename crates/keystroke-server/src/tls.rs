//! HTTPS: the PEM certificate and key `serve --tls-cert --tls-key` loads (tiny_http's rustls
//! backend), and a self-signed pair for a LAN, so a phone app that refuses cleartext can
//! connect once it trusts that certificate.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate};
use thiserror::Error;

/// Where the server's certificate chain and private key are (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The certificate or key is not usable.
    #[error("{cert} and {key} are not a usable certificate and key: {message}")]
    Invalid {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The files to create exist already.
    #[error("{0} exists; remove it or choose another folder")]
    Exists(PathBuf),
    /// Generating the certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
}

impl TlsFiles {
    /// `cert.pem` and `key.pem` in `dir`.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }

    /// Reads both files and checks that rustls accepts them as a pair, so a bad file is reported
    /// by name before the server starts.
    pub(super) fn load(&self) -> Result<tiny_http::SslConfig, TlsError> {
        let read = |path: &Path| {
            fs::read(path).map_err(|source| TlsError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })
        };
        let config = tiny_http::SslConfig {
            certificate: read(&self.cert)?,
            private_key: read(&self.key)?,
        };
        check_pair(&config).map_err(|message| self.invalid(message))?;
        Ok(config)
    }

    pub(super) fn invalid(&self, message: String) -> TlsError {
        TlsError::Invalid {
            cert: self.cert.clone(),
            key: self.key.clone(),
            message,
        }
    }
}

fn check_pair(config: &tiny_http::SslConfig) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(&config.certificate)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no PEM certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&config.private_key)
        .map_err(|e| format!("private key: {e}"))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("private key: {e}"))?;
    rustls::sign::CertifiedKey::new(chain, signing)
        .keys_match()
        .map_err(|e| format!("the key does not belong to the certificate ({e})"))
}

/// A self-signed certificate and its key, as PEM.
pub struct SelfSigned {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
    /// SHA-256 of the certificate (DER), as colon-separated hex: what a client pins or checks.
    pub sha256: String,
}

/// Makes a self-signed certificate (ECDSA P-256) for the DNS names and IP addresses in `hosts`,
/// valid from `valid_from` for `days` days.
pub fn self_signed(
    hosts: &[String],
    valid_from: NaiveDate,
    days: u32,
) -> Result<SelfSigned, TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    for host in hosts {
        params.subject_alt_names.push(match host.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName(host.clone().try_into().map_err(generate)?),
        });
    }
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "Keystroke Workbench (self-signed)",
    );
    let day = |date: NaiveDate| {
        // Months and days always fit in a u8.
        rcgen::date_time_ymd(date.year(), date.month() as u8, date.day() as u8)
    };
    let valid_to = valid_from
        .checked_add_days(Days::new(u64::from(days)))
        .ok_or_else(|| TlsError::Generate(format!("{days} days from {valid_from} is too far")))?;
    params.not_before = day(valid_from);
    params.not_after = day(valid_to);
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.der());
    let sha256 = digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        sha256,
    })
}
