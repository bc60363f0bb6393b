//! Enrolment codes: with an API token set, the collection page enrols a participant with a
//! short-lived code shown by the workbench or printed by `serve`, never with the token itself.
//! A code is valid for [`CODE_LIFETIME`] and for one new participant: the first /train that
//! uses it binds it to that user id, who must have no samples yet (a code never writes into an
//! enrolled user), and it admits no other. A binding whose sample is then refused is undone. A
//! code may also be issued for a named participant, to finish an enrolment begun earlier. Codes live in the server's memory (a
//! restart forgets them), at most [`MAX_LIVE_CODES`] at a time.

use std::sync::Mutex;

use chrono::{NaiveDateTime, TimeDelta};
use ring::rand::{SecureRandom, SystemRandom};

use keystroke_core::store::UserId;

/// How long a code admits enrolment after it is issued.
pub const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// Codes alive at once; issuing another drops the oldest.
pub const MAX_LIVE_CODES: usize = 64;
/// Characters of a code (no `0 O 1 I`, which read alike): 8 of 32 symbols, 40 bits.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_CHARS: usize = 8;

/// A code as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The code, written `ABCD-EFGH`.
    pub code: String,
    /// When it stops admitting enrolment.
    pub expires_at: NaiveDateTime,
}

#[derive(Debug)]
struct Live {
    /// The 8 symbols, without the dash.
    symbols: String,
    expires_at: NaiveDateTime,
    participant: Option<UserId>,
}

/// Why a code did not admit a /train (the 401/403 message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    /// No live code has these symbols (never issued, mistyped, or expired).
    #[error("the enrolment code is not valid (mistyped or expired): ask for a new one")]
    Unknown,
    /// The code is bound to another participant.
    #[error("this enrolment code belongs to another participant: ask for a new one")]
    OtherParticipant,
    /// The user already has samples from elsewhere: a code enrols new participants only.
    #[error(
        "an enrolment code enrols new participants only: this user id already has samples \
         (choose another id, or send the API token)"
    )]
    AlreadyEnrolled,
}

/// How a code admitted a /train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The code was already this participant's.
    Bound,
    /// This request bound the code to the participant: undo with
    /// [`EnrolmentCodes::release`] if the sample is not stored.
    NewlyBound,
}

/// The live codes of one server.
#[derive(Debug, Default)]
pub struct EnrolmentCodes {
    live: Mutex<Vec<Live>>,
}

impl EnrolmentCodes {
    /// A new code, valid from `now` for [`CODE_LIFETIME`]: for a new participant, or already
    /// bound to `participant` (who may have samples: a participant finishing an enrolment).
    pub fn issue(&self, now: NaiveDateTime, participant: Option<UserId>) -> IssuedCode {
        let mut bytes = [0u8; CODE_CHARS];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the operating system's random source works");
        let symbols: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
            .collect();
        let expires_at = now + CODE_LIFETIME;
        let mut live = self.lock();
        live.retain(|c| c.expires_at > now);
        if live.len() >= MAX_LIVE_CODES {
            live.remove(0);
        }
        live.push(Live {
            symbols: symbols.clone(),
            expires_at,
            participant,
        });
        IssuedCode {
            code: format!("{}-{}", &symbols[..4], &symbols[4..]),
            expires_at,
        }
    }

    /// Whether `presented` admits `user`'s /train at `now`; its first use binds it to `user`,
    /// who must not be enrolled already (`enrolled` says whether they have samples). Case,
    /// spaces and dashes are ignored; symbols are compared in constant time.
    pub fn admit(
        &self,
        presented: &str,
        user: &UserId,
        enrolled: impl FnOnce() -> bool,
        now: NaiveDateTime,
    ) -> Result<Admission, CodeRefusal> {
        let symbols = normalise(presented);
        let mut live = self.lock();
        live.retain(|c| c.expires_at > now);
        let code = live
            .iter_mut()
            .find(|c| constant_time_eq::constant_time_eq(c.symbols.as_bytes(), symbols.as_bytes()))
            .ok_or(CodeRefusal::Unknown)?;
        match &code.participant {
            Some(bound) if bound != user => Err(CodeRefusal::OtherParticipant),
            Some(_) => Ok(Admission::Bound),
            None if enrolled() => Err(CodeRefusal::AlreadyEnrolled),
            None => {
                code.participant = Some(user.clone());
                Ok(Admission::NewlyBound)
            }
        }
    }

    /// Undoes the binding an [`Admission::NewlyBound`] made (its sample was not stored).
    pub fn release(&self, presented: &str, user: &UserId) {
        let symbols = normalise(presented);
        for code in self.lock().iter_mut() {
            if code.symbols == symbols && code.participant.as_ref() == Some(user) {
                code.participant = None;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Live>> {
        // The list stays consistent whatever a panicking holder did (each edit is one call).
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A presented code's symbols: upper case, without dashes or spaces.
fn normalise(presented: &str) -> String {
    presented
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
            + TimeDelta::minutes(minutes)
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn a_code_admits_one_participant_for_its_lifetime() {
        let codes = EnrolmentCodes::default();
        let issued = codes.issue(at(0), None);
        assert_eq!(issued.code.len(), 9);
        assert_eq!(issued.expires_at, at(10));
        assert_eq!(
            codes.admit(&issued.code, &user("p01"), || false, at(1)),
            Ok(Admission::NewlyBound)
        );
        let typed = issued.code.to_lowercase().replace('-', " ");
        // Now enrolled: their own code still admits them.
        assert_eq!(
            codes.admit(&typed, &user("p01"), || true, at(2)),
            Ok(Admission::Bound)
        );
        assert_eq!(
            codes.admit(&issued.code, &user("p02"), || false, at(2)),
            Err(CodeRefusal::OtherParticipant)
        );
        assert_eq!(
            codes.admit(&issued.code, &user("p01"), || false, at(10)),
            Err(CodeRefusal::Unknown)
        );
    }

    #[test]
    fn only_issued_codes_admit() {
        let codes = EnrolmentCodes::default();
        assert_eq!(
            codes.admit("ABCD-EFGH", &user("p01"), || false, at(0)),
            Err(CodeRefusal::Unknown)
        );
        let first = codes.issue(at(0), None);
        let second = codes.issue(at(0), None);
        assert_ne!(first, second);
        assert_eq!(
            codes.admit("", &user("p01"), || false, at(0)),
            Err(CodeRefusal::Unknown)
        );
        assert_eq!(
            codes.admit(&second.code, &user("p02"), || false, at(0)),
            Ok(Admission::NewlyBound)
        );
        assert_eq!(
            codes.admit(&first.code, &user("p01"), || false, at(0)),
            Ok(Admission::NewlyBound)
        );
    }

    #[test]
    fn a_code_never_writes_into_an_enrolled_user_and_a_refused_sample_unbinds_it() {
        let codes = EnrolmentCodes::default();
        let issued = codes.issue(at(0), None);
        assert_eq!(
            codes.admit(&issued.code, &user("alice"), || true, at(1)),
            Err(CodeRefusal::AlreadyEnrolled)
        );
        assert_eq!(
            codes.admit(&issued.code, &user("p01"), || false, at(1)),
            Ok(Admission::NewlyBound)
        );
        codes.release(&issued.code, &user("p01"));
        assert_eq!(
            codes.admit(&issued.code, &user("p02"), || false, at(1)),
            Ok(Admission::NewlyBound)
        );
    }

    #[test]
    fn a_code_issued_for_a_participant_admits_only_them_enrolled_or_not() {
        let codes = EnrolmentCodes::default();
        let carol = codes.issue(at(0), Some(user("carol")));
        assert_eq!(
            codes.admit(&carol.code, &user("carol"), || true, at(1)),
            Ok(Admission::Bound)
        );
        assert_eq!(
            codes.admit(&carol.code, &user("p01"), || false, at(1)),
            Err(CodeRefusal::OtherParticipant)
        );
    }

    #[test]
    fn the_oldest_code_gives_way() {
        let codes = EnrolmentCodes::default();
        let oldest = codes.issue(at(0), None);
        for _ in 0..MAX_LIVE_CODES {
            codes.issue(at(1), None);
        }
        assert_eq!(
            codes.admit(&oldest.code, &user("p01"), || false, at(2)),
            Err(CodeRefusal::Unknown)
        );
    }
}
