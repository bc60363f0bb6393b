//! The deployment files: the systemd unit passes `systemd-analyze verify` and the Dockerfile
//! passes hadolint, where those tools are installed (`.ci/setup --test` installs both).

use std::path::Path;
use std::process::Command;

fn available(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn systemd_unit_verifies() {
    if !available("systemd-analyze") {
        eprintln!("systemd-analyze is not installed: unit not verified");
        return;
    }
    let unit = std::fs::read_to_string("deploy/keystroke-workbench.service").unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/keystroke-workbench serve\n"));
    assert!(
        unit.contains("\nLimitNOFILE="),
        "the unit raises the open-file limit"
    );
    // Verify against the binary just built (verify checks that ExecStart exists).
    let binary = env!("CARGO_BIN_EXE_keystroke-workbench");
    let unit = unit.replace(
        "ExecStart=/usr/local/bin/keystroke-workbench",
        &format!("ExecStart={binary}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keystroke-workbench.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // systemd reports unknown settings as warnings without failing: none are allowed.
    assert!(!stderr.contains("Unknown"), "{stderr}");
}

#[test]
fn dockerfile_lints_clean_and_builds_headless() {
    let dockerfile = std::fs::read_to_string("Dockerfile").unwrap();
    assert!(dockerfile.contains("--no-default-features"));
    assert!(
        dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")) >= 2
    );
    // Every path the build stage copies exists, and every local crate the build needs (the
    // workspace's path dependencies) is copied.
    let mut copied = Vec::new();
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let sources: Vec<&str> = line.split_whitespace().skip(1).collect();
        for source in &sources[..sources.len() - 1] {
            assert!(Path::new(source).exists(), "{line}: {source} is missing");
            copied.push(source.trim_end_matches('/').to_string());
        }
    }
    let manifest = std::fs::read_to_string("Cargo.toml").unwrap();
    for needed in manifest.split("path = \"").skip(1) {
        let top = needed.split(['/', '"']).next().unwrap();
        assert!(
            copied.iter().any(|c| c == top),
            "Cargo.toml needs {top}/, which the Dockerfile does not copy"
        );
    }
    if !available("hadolint") {
        eprintln!("hadolint is not installed: Dockerfile not linted");
        return;
    }
    let output = Command::new("hadolint").arg("Dockerfile").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
