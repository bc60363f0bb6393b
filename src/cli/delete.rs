//! `keystroke-workbench delete USER`: removes a user's samples, model, template and lockout
//! state from a store, at once (the store's own deletion: a crash leaves all or nothing), under
//! the user's lock, so a `serve` or workbench on the folder sees the user gone, never half.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::Args;

use super::sessions::StoreArgs;
use keystroke_core::store::UserId;

/// Arguments of `delete`.
#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// The user to delete
    pub user: String,
    /// The store holding the user.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Delete without asking (needed when not run from a terminal)
    #[arg(long)]
    pub yes: bool,
}

/// Runs `delete`: on a terminal without `--yes`, asks for the user id to be typed again.
pub fn run(
    args: &DeleteArgs,
    input: &mut dyn BufRead,
    input_is_terminal: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let user = UserId::parse(&args.user)?;
    let dir = &args.store.models;
    if !dir.is_dir() {
        bail!("no model store at {}", dir.display());
    }
    let store = args.store.open()?;
    let metadata = store.metadata(&user)?;
    let Some(metadata) = metadata else {
        bail!("{user} has no samples in {}", dir.display());
    };
    if !args.yes {
        if !input_is_terminal {
            bail!("refusing to delete {user} without --yes when not run from a terminal");
        }
        write!(
            out,
            "delete {user}'s {} samples and model from {}? Type {user} to confirm: ",
            metadata.samples,
            dir.display()
        )?;
        out.flush()?;
        let mut answer = String::new();
        input
            .read_line(&mut answer)
            .context("reading the confirmation")?;
        if answer.trim() != user.as_str() {
            bail!("not confirmed: {user} was not deleted");
        }
    }
    let deleted = store.with_user(&user, |w| w.delete())?;
    if !deleted {
        bail!("{user} has no files in {}", dir.display());
    }
    writeln!(out, "{user}: deleted ({} samples)", metadata.samples)?;
    Ok(())
}

/// [`run`] on the process's standard input and output.
pub fn run_on_stdio(args: &DeleteArgs) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    run(
        args,
        &mut stdin.lock(),
        terminal,
        &mut std::io::stdout().lock(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use keystroke_core::store::Store;

    fn store_with_alice(dir: &std::path::Path) {
        let store = Store::open(dir).unwrap();
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let sample = keystroke_core::capture::Sample::from_events(
            serde_json::from_value(serde_json::json!([
                {"key": "a", "event": "down", "timestamp": 0},
                {"key": "a", "event": "up", "timestamp": 90},
                {"key": "b", "event": "down", "timestamp": 200},
                {"key": "b", "event": "up", "timestamp": 280}
            ]))
            .unwrap(),
        )
        .unwrap();
        let alice = UserId::parse("alice").unwrap();
        store
            .with_user(&alice, |w| w.add_sample(&sample, None, now))
            .unwrap();
    }

    fn args(dir: &std::path::Path, yes: bool) -> DeleteArgs {
        DeleteArgs {
            user: "alice".into(),
            store: StoreArgs {
                models: dir.to_path_buf(),
            },
            yes,
        }
    }

    #[test]
    fn asks_on_a_terminal_and_deletes_only_when_the_id_is_typed() {
        let dir = tempfile::tempdir().unwrap();
        store_with_alice(dir.path());
        let mut out = Vec::new();
        let err = run(&args(dir.path(), false), &mut &b"yes\n"[..], true, &mut out).unwrap_err();
        assert_eq!(err.to_string(), "not confirmed: alice was not deleted");
        let alice = UserId::parse("alice").unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.metadata(&alice).unwrap().is_some());
        let mut out = Vec::new();
        run(
            &args(dir.path(), false),
            &mut &b"alice\n"[..],
            true,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Type alice to confirm"), "{text}");
        assert!(text.ends_with("alice: deleted (1 samples)\n"), "{text}");
        assert!(store.metadata(&alice).unwrap().is_none());
    }

    #[test]
    fn refuses_without_a_terminal_or_a_user_and_never_creates_a_store() {
        let dir = tempfile::tempdir().unwrap();
        store_with_alice(dir.path());
        let err = run(
            &args(dir.path(), false),
            &mut &b""[..],
            false,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("without --yes"), "{err}");
        let missing = dir.path().join("nowhere");
        let err = run(&args(&missing, true), &mut &b""[..], false, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().starts_with("no model store at"), "{err}");
        assert!(!missing.exists());
        run(
            &args(dir.path(), true),
            &mut &b""[..],
            false,
            &mut Vec::new(),
        )
        .unwrap();
        let err = run(
            &args(dir.path(), true),
            &mut &b""[..],
            false,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("alice has no samples"), "{err}");
    }
}
