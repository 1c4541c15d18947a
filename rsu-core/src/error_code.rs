//! The request-level error codes of the HTTP API: the `error` field of every non-2xx answer
//! ([`crate::wire::ErrorBody`]), each with the HTTP status it is normally sent with. The server
//! builds its errors from these and the device matches them, so neither side spells a code by
//! hand. On the wire a code is the same snake_case string as always (`"clock_skew"`); a code this
//! build does not know (a newer server) stays readable as text in `ErrorBody::error`, and
//! [`ErrorCode::from_wire`] answers `None` for it.
//!
//! Entry-level codes (the `code` of one journal entry's result) are [`crate::wire::EntryCode`].

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, $status:literal; )*) => {
        /// A request-level error code; see the module documentation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order of the list.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it travels (`"clock_skew"`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }

            /// The HTTP status the code is sent with. A few codes are also sent with another
            /// status where the context says so (`unknown_key` is 404 when an administrator names
            /// a key that does not exist, `key_revoked` is 403 for a continuity proof).
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }
        }
    };
}

error_codes! {
    // Bodies and fields (400, 413).
    /// The body is not JSON, or empty.
    MalformedJson = "malformed_json", 400;
    /// A field is missing, has the wrong type or a value outside what is allowed.
    InvalidField = "invalid_field", 400;
    /// The body could not be read completely.
    BadBody = "bad_body", 400;
    /// The body is larger than the endpoint accepts.
    BodyTooLarge = "body_too_large", 413;
    /// The entries of a push are not consecutive.
    BatchNotContiguous = "batch_not_contiguous", 400;
    /// A database check constraint refused a value.
    CheckFailed = "check_failed", 400;
    /// An id names a record that does not exist (a foreign key).
    UnknownReference = "unknown_reference", 400;
    /// A journal export file cannot be read or does not check out.
    BadExport = "bad_export", 400;
    /// An admin operation that must record who did it was given no name.
    MissingAdminName = "missing_admin_name", 400;

    // Signed device requests (401, 403).
    /// A signing header is missing.
    MissingHeader = "missing_header", 401;
    /// A signing header is malformed.
    BadHeader = "bad_header", 401;
    /// The timestamp is outside the clock window: correct the clock with `serverTime`.
    ClockSkew = "clock_skew", 401;
    /// The key is not registered for the RSU.
    UnknownKey = "unknown_key", 401;
    /// The signature does not verify.
    BadSignature = "bad_signature", 401;
    /// The key was revoked.
    KeyRevoked = "key_revoked", 401;
    /// The key expired.
    KeyExpired = "key_expired", 401;
    /// The nonce was already used with this key.
    NonceReused = "nonce_reused", 401;
    /// The RSU (or its organization) is disabled, lost or decommissioned.
    RsuDisabled = "rsu_disabled", 403;

    // Enrollment and keys.
    /// The enrollment token is not valid.
    BadToken = "bad_token", 401;
    /// The enrollment token was already used.
    TokenUsed = "token_used", 401;
    /// The enrollment token expired.
    TokenExpired = "token_expired", 401;
    /// The device or export belongs to another RSU than the one named.
    WrongRsu = "wrong_rsu", 409;
    /// The key was already replaced by a successor that has been used.
    KeySucceeded = "key_succeeded", 409;
    /// The public key is already registered.
    KeyInUse = "key_in_use", 409;
    /// The epoch was never enrolled.
    UnknownEpoch = "unknown_epoch", 409;

    // The journal push.
    /// The server holds less of this epoch than the batch assumes: resend from `expectedSeq`.
    Gap = "gap", 409;

    // Allocations.
    /// The event is not in a state that allocates numbers.
    EventNotAllocating = "event_not_allocating", 409;
    /// The event has no ticket range of type `rsu`.
    NoRsuRange = "no_rsu_range", 409;
    /// The event's `rsu` range is fully allocated.
    RangeExhausted = "range_exhausted", 409;
    /// The RSU already holds as many unsold numbers as it may.
    AllocationCap = "allocation_cap", 409;

    // Admin operations.
    /// Admin HTTP is disabled on this server.
    AdminDisabled = "admin_disabled", 403;
    /// The admin bearer token is missing.
    MissingAdminToken = "missing_admin_token", 401;
    /// The admin bearer token is wrong.
    BadAdminToken = "bad_admin_token", 401;
    /// The signed-in user or API token lacks the permission the action needs in its organization.
    PermissionDenied = "permission_denied", 403;
    /// A dashboard form came without the session's CSRF token, or with another one.
    CsrfRejected = "csrf_rejected", 403;
    /// A unique value is already used.
    AlreadyExists = "already_exists", 409;
    /// A range overlaps another (an exclusion constraint).
    Overlaps = "overlaps", 409;
    /// No such organization.
    UnknownOrganization = "unknown_organization", 404;
    /// No such event (or not one of this organization).
    UnknownEvent = "unknown_event", 404;
    /// No such package.
    UnknownPackage = "unknown_package", 404;
    /// No such RSU.
    UnknownRsu = "unknown_rsu", 404;
    /// No such journal entry.
    UnknownEntry = "unknown_entry", 404;
    /// No such operator (seller or supervisor).
    UnknownOperator = "unknown_operator", 404;
    /// No such allocation.
    UnknownAllocation = "unknown_allocation", 404;
    /// The event's state machine does not allow this transition.
    InvalidTransition = "invalid_transition", 409;
    /// The event has no active package.
    NoPackages = "no_packages", 409;
    /// The event lacks what `configured` needs (a package, an `rsu` range, a prize).
    NotConfigured = "not_configured", 409;
    /// An RSU holding an allocation is neither reconciled nor excluded.
    ReconciliationBlocked = "reconciliation_blocked", 409;
    /// The draw is not completed.
    DrawNotCompleted = "draw_not_completed", 409;
    /// The event is closed for this change.
    EventClosed = "event_closed", 409;
    /// The price is locked by the event's jurisdiction.
    PriceLocked = "price_locked", 409;
    /// The change breaks a regulation in force in the event's jurisdiction (the message names it).
    RegulationBreached = "regulation_breached", 409;
    /// The PIN is already used by another operator.
    PinTaken = "pin_taken", 409;
    /// The entry is not an exception.
    NotAnException = "not_an_exception", 409;
    /// The exception was already resolved.
    AlreadyResolved = "already_resolved", 409;
    /// More than one entry matches.
    AmbiguousEntry = "ambiguous_entry", 409;
    /// The RSU is already excluded from the event.
    AlreadyExcluded = "already_excluded", 409;
    /// The RSU is not excluded from the event.
    NotExcluded = "not_excluded", 409;
    /// The RSU holds no allocation of the event.
    NoAllocation = "no_allocation", 409;
    /// The record belongs to another organization.
    OtherOrganization = "other_organization", 403;
    /// Nothing is withheld.
    NothingWithheld = "nothing_withheld", 409;
    /// No such perk (or not one of this organization).
    UnknownPerk = "unknown_perk", 404;
    /// The perk's inventory has fewer units left than asked for.
    PerkInventoryExhausted = "perk_inventory_exhausted", 409;
    /// No perk was issued with this claim code.
    UnknownClaimCode = "unknown_claim_code", 404;

    // The draw and claims (docs/draw.md).
    /// The signed receipt QR is not in the expected format.
    BadReceipt = "bad_receipt", 400;
    /// The text is not a validation number.
    MalformedValidationNumber = "malformed_validation_number", 400;
    /// The validation number's tag does not check with its device's key.
    BadTag = "bad_tag", 400;
    /// A file could not be written.
    CannotWrite = "cannot_write", 400;
    /// The draw's inputs are inconsistent (a prize or the eligible set).
    DrawInputsInvalid = "draw_inputs_invalid", 409;
    /// The prize was already claimed.
    AlreadyClaimed = "already_claimed", 409;
    /// The event was already drawn.
    AlreadyDrawn = "already_drawn", 409;
    /// The event's unclaimed prizes were already redrawn.
    AlreadyRedrawn = "already_redrawn", 409;
    /// The validation number matches more than one order.
    AmbiguousValidationNumber = "ambiguous_validation_number", 409;
    /// The claim deadline has not passed: nothing can be redrawn yet.
    ClaimDeadlineNotPassed = "claim_deadline_not_passed", 409;
    /// The claim deadline has passed.
    ClaimDeadlinePassed = "claim_deadline_passed", 409;
    /// The claim deadline cannot be read as a date: check it by hand.
    ClaimDeadlineUnknown = "claim_deadline_unknown", 409;
    /// The event has no committed draw seed.
    NoCommitment = "no_commitment", 409;
    /// The event has no prizes to draw.
    NoPrizes = "no_prizes", 409;
    /// The event has no committed redraw seed.
    NoRedrawCommitment = "no_redraw_commitment", 409;
    /// The ticket is not a winner.
    NotAWinner = "not_a_winner", 409;
    /// The event is not in drawing_ready.
    NotDrawingReady = "not_drawing_ready", 409;
    /// The event has not been drawn.
    NotDrawn = "not_drawn", 409;
    /// No prize is left to redraw.
    NothingToRedraw = "nothing_to_redraw", 409;
    /// The prize was forfeited and redrawn.
    PrizeForfeited = "prize_forfeited", 409;
    /// The receipt's QR does not match the order it names.
    ReceiptMismatch = "receipt_mismatch", 409;
    /// The eligible ticket set changed during the draw.
    TicketSetChanged = "ticket_set_changed", 409;
    /// The order was voided.
    Voided = "voided", 409;
    /// No order has this validation number.
    UnknownValidationNumber = "unknown_validation_number", 404;
    /// Too many wrong validation numbers: claims are paused for a minute.
    TooManyAttempts = "too_many_attempts", 429;

    // Anything.
    /// No endpoint at this path and method.
    NoSuchEndpoint = "no_such_endpoint", 404;
    /// The server failed; nothing was applied: retry later.
    Internal = "internal", 500;
    /// The database is unavailable; nothing was applied: retry later.
    DatabaseUnavailable = "database_unavailable", 503;
    /// Too many pushes are waiting for the database: come back after the `Retry-After` seconds.
    ServerBusy = "server_busy", 503;
}

impl ErrorCode {
    /// The code of a wire string, `None` for a code this build does not know.
    pub fn from_wire(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// Whether `wire` (an `ErrorBody::error`) is this code.
    pub fn is(self, wire: &str) -> bool {
        self.as_str() == wire
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ErrorCode> for &'static str {
    fn from(c: ErrorCode) -> &'static str {
        c.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_travels_as_its_snake_case_string_and_back() {
        for &c in ErrorCode::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()), "{c:?}");
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
            assert_eq!(ErrorCode::from_wire(c.as_str()), Some(c));
            assert!(c.is(c.as_str()));
        }
        assert_eq!(ErrorCode::ClockSkew.as_str(), "clock_skew");
        assert_eq!(ErrorCode::from_wire("no_such_code"), None);
    }

    #[test]
    fn codes_are_unique_and_statuses_are_client_or_server_errors() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c:?} twice");
            assert!((400..600).contains(&c.status()), "{c:?}");
        }
        assert_eq!(ErrorCode::ClockSkew.status(), 401);
        assert_eq!(ErrorCode::Gap.status(), 409);
        assert_eq!(ErrorCode::BodyTooLarge.status(), 413);
        assert_eq!(ErrorCode::DatabaseUnavailable.status(), 503);
    }
}
