//! `keystroke-workbench tls-cert`: a self-signed certificate and key for `serve --tls-cert
//! --tls-key` on a LAN.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;

use keystroke_server::{TlsError, TlsFiles, lan_ips, self_signed};

/// Arguments of `tls-cert`.
#[derive(Debug, Clone, Args)]
pub struct TlsCertArgs {
    /// Folder for `cert.pem` and `key.pem` (created if missing; existing files are kept)
    #[arg(long, value_name = "DIR", default_value = "tls")]
    pub out: PathBuf,
    /// Another host name or IP address the certificate is for (repeatable). `localhost`,
    /// 127.0.0.1, ::1 and this machine's LAN addresses are always included
    #[arg(long = "host", value_name = "NAME|IP")]
    pub hosts: Vec<String>,
    /// Days the certificate is valid
    #[arg(long, value_name = "N", default_value_t = 825)]
    pub days: u32,
}

/// Writes the pair and says how to use it.
pub fn run(args: &TlsCertArgs, today: NaiveDate, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    hosts.extend(lan_ips(true).iter().map(ToString::to_string));
    hosts.extend(args.hosts.iter().cloned());
    hosts.dedup();
    // Valid from yesterday: a client whose clock or time zone is behind still accepts it.
    let pair = self_signed(&hosts, today.pred_opt().unwrap_or(today), args.days)?;
    let files = TlsFiles::in_dir(&args.out);
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    for path in [&files.cert, &files.key] {
        if path.exists() {
            return Err(TlsError::Exists(path.clone()).into());
        }
    }
    write_new(&files.key, pair.key_pem.as_bytes(), 0o600)?;
    write_new(&files.cert, pair.cert_pem.as_bytes(), 0o644)?;
    writeln!(
        out,
        "Wrote {} and {} (readable by you only), valid for {} days, for:\n  {}",
        files.cert.display(),
        files.key.display(),
        args.days,
        hosts.join(" ")
    )?;
    writeln!(out, "SHA-256 fingerprint: {}", pair.sha256)?;
    writeln!(
        out,
        "Serve HTTPS with:\n  keystroke-workbench serve --tls-cert {} --tls-key {}",
        files.cert.display(),
        files.key.display()
    )?;
    writeln!(
        out,
        "Clients must trust this certificate: on Android, add cert.pem to the app as \
         res/raw/keystroke_cert and list it under <trust-anchors> in \
         res/xml/network_security_config.xml; check the fingerprint above when copying it."
    )?;
    Ok(())
}

/// Creates `path` (never replacing a file) with `mode` on Unix, writes and syncs it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
