//! Money as integer minor units plus an ISO 4217 currency (DESIGN §3 invariant 8).
//!
//! There is deliberately no conversion from or to floating point anywhere in this module.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency code: exactly three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .description(Some("An ISO 4217 currency code: three upper-case letters."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Currency {}

/// Why a currency code or an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "currency code {0:?} is not an ISO 4217 code: use three upper-case letters such as USD"
    )]
    BadCurrency(String),
    #[error("cannot combine {0} and {1}: amounts in different currencies")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount overflow: the total is too large to represent")]
    Overflow,
    #[error("amount {0} is negative: prices and totals must be zero or more")]
    Negative(i64),
}

impl Currency {
    /// Parses a three-letter upper-case code.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(MoneyError::BadCurrency(code.to_string()))
        }
    }

    /// The code as text, e.g. `"USD"`.
    pub fn code(&self) -> &str {
        // The constructor only admits ASCII upper-case letters, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Number of minor-unit digits (ISO 4217 exponent). Unknown codes default to 2.
    pub fn exponent(&self) -> u32 {
        match self.code() {
            "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XAF" | "XOF" | "PYG" | "UGX" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
            _ => 2,
        }
    }

    /// A symbol for display on screens and receipts, if the currency has a common one.
    pub fn symbol(&self) -> Option<&'static str> {
        match self.code() {
            "USD" | "CAD" | "AUD" | "NZD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            _ => None,
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::new(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::new(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money: integer minor units (cents for USD) in one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Amount in the currency's minor unit.
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// A price or total, which must not be negative.
    pub fn non_negative(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative(minor));
        }
        Ok(Money { minor, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    /// The amount without symbol, e.g. `20.00` for 2000 USD.
    pub fn amount_text(&self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let div = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / div,
            abs % div,
            width = exp as usize
        )
    }
}

impl fmt::Display for Money {
    /// `$20.00`, `€5.00`, or `20.00 CHF` where no common symbol exists.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.amount_text();
        match self.currency.symbol() {
            Some(sym) => {
                if let Some(rest) = text.strip_prefix('-') {
                    write!(f, "-{sym}{rest}")
                } else {
                    write!(f, "{sym}{text}")
                }
            }
            None => write!(f, "{text} {}", self.currency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::new("USD").unwrap())
    }

    #[test]
    fn a_currency_code_must_be_three_upper_case_letters() {
        assert!(Currency::new("USD").is_ok());
        assert!(Currency::new("usd").is_err());
        assert!(Currency::new("US").is_err());
        assert!(Currency::new("USDD").is_err());
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
    }

    #[test]
    fn money_displays_with_minor_units_and_symbol() {
        assert_eq!(usd(2000).to_string(), "$20.00");
        assert_eq!(usd(5).to_string(), "$0.05");
        assert_eq!(usd(-150).to_string(), "-$1.50");
        let jpy = Money::new(500, Currency::new("JPY").unwrap());
        assert_eq!(jpy.to_string(), "¥500");
        let chf = Money::new(1234, Currency::new("CHF").unwrap());
        assert_eq!(chf.to_string(), "12.34 CHF");
    }

    #[test]
    fn adding_different_currencies_is_refused() {
        let eur = Money::new(100, Currency::new("EUR").unwrap());
        assert!(matches!(
            usd(100).checked_add(eur),
            Err(MoneyError::CurrencyMismatch(_, _))
        ));
    }

    #[test]
    fn arithmetic_overflow_is_an_error_not_a_wrap() {
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(usd(2000).checked_mul(3).unwrap().minor, 6000);
    }

    #[test]
    fn money_serializes_as_integer_minor_units() {
        let json = serde_json::to_string(&usd(2000)).unwrap();
        assert_eq!(json, r#"{"minor":2000,"currency":"USD"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"minor":20.5,"currency":"USD"}"#).is_err());
    }
}
