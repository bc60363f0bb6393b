//! Taking a stored sample out of use and putting it back, and undoing the newest sample action
//! (an accept is undone by excluding the sample it stored): the store's own exclusion, under
//! the user's lock, so a server on the folder sees the change at once.

use chrono::Local;

use super::command::Status;
use super::state::{Undo, Workbench};
use keystroke_core::detect::DetectorParams;

impl Workbench {
    /// Excludes (or restores) stored sample `number` of the selected user; the action can be
    /// undone.
    pub(super) fn set_excluded(&mut self, number: usize, excluded: bool) -> Status {
        let user = self.user.clone()?;
        // The model's detector now: undoing retrains it even if this drops it.
        let params = self.store.metadata(&user).ok().flatten()?.params;
        let (status, done) = self.exclude(number, excluded, None);
        if done {
            let verb = if excluded { "exclusion" } else { "restoration" };
            self.undo.push(Undo {
                user,
                number,
                excluded: !excluded,
                params,
                what: format!("{verb} of sample {number}"),
            });
        }
        Some(status)
    }

    /// Undoes the newest sample action of the selected user.
    pub(super) fn undo_last(&mut self) -> Status {
        let undo = self.undo.pop()?;
        if self.user.as_ref() != Some(&undo.user) {
            self.undo.clear();
            return None;
        }
        let (status, _) = self.exclude(undo.number, undo.excluded, undo.params.as_ref());
        Some(format!("undid the {}: {status}", undo.what))
    }

    /// The store's exclusion, retraining (or dropping) the model as the store decides, with
    /// the Enrol tab's goal as the samples a model needs (`train`: the detector to fit when
    /// the user has no model); returns the status and whether the store changed.
    fn exclude(
        &mut self,
        number: usize,
        excluded: bool,
        train: Option<&DetectorParams>,
    ) -> (String, bool) {
        let Some(user) = self.user.clone() else {
            return ("choose a user first".into(), false);
        };
        let min_samples = self.settings.min_samples;
        let result = self.store.with_user(&user, |w| {
            w.set_excluded(
                number.checked_sub(1).unwrap_or(usize::MAX),
                excluded,
                train,
                min_samples,
                Local::now().naive_local(),
            )
        });
        let _ = self.refresh_view();
        let done = result.is_ok();
        let status = match result {
            Ok(metadata) => {
                let done = if excluded {
                    "excluded (kept, not used)"
                } else {
                    "back in use"
                };
                let model = match metadata.detector {
                    Some(kind) => format!("{kind} retrained on {}", metadata.active_samples()),
                    None => format!("no model until {} samples are in use", min_samples.max(1)),
                };
                format!("sample {number} of {user} {done}; {model}")
            }
            Err(e) => format!("cannot change sample {number}: {e}"),
        };
        (status, done)
    }
}
