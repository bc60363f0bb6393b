//! Taking a stored sample out of use and putting it back, and undoing the newest sample action
//! (an accept is undone by excluding the sample it stored): the store's own exclusion, under
//! the user's lock, so a server on the folder sees the change at once.

use chrono::Local;

use super::command::Status;
use super::state::{Undo, Workbench};

impl Workbench {
    /// Excludes (or restores) stored sample `number` of the selected user; a change can be
    /// undone.
    pub(super) fn set_excluded(&mut self, number: usize, excluded: bool) -> Status {
        let user = self.user.clone()?;
        let (status, changed) = self.exclude(number, excluded);
        if changed {
            let verb = if excluded { "exclusion" } else { "restoration" };
            self.undo.push(Undo {
                user,
                number,
                excluded: !excluded,
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
        let (status, _) = self.exclude(undo.number, undo.excluded);
        Some(format!("undid the {}: {status}", undo.what))
    }

    /// The store's exclusion, retraining (or dropping) the model as the store decides, with
    /// the enrolment goal (which the workbench's server also trains at) as the samples a model
    /// needs; returns the status and whether the store changed.
    fn exclude(&mut self, number: usize, excluded: bool) -> (String, bool) {
        let Some(user) = self.user.clone() else {
            return ("choose a user first".into(), false);
        };
        let Some(index) = number.checked_sub(1) else {
            return ("samples are numbered from 1".into(), false);
        };
        let min_samples = self.settings.min_samples;
        let result = self.store.with_user(&user, |w| {
            w.set_excluded(
                index,
                excluded,
                None,
                min_samples,
                Local::now().naive_local(),
            )
        });
        let _ = self.refresh_view();
        match result {
            Ok((metadata, changed)) => {
                let done = match (changed, excluded) {
                    (false, true) => "was already excluded",
                    (false, false) => "was already in use",
                    (true, true) => "excluded (kept, not used)",
                    (true, false) => "back in use",
                };
                let model = metadata.model_summary(min_samples);
                (
                    format!("sample {number} of {user} {done}; {model}"),
                    changed,
                )
            }
            Err(e) => (format!("cannot change sample {number}: {e}"), false),
        }
    }
}
