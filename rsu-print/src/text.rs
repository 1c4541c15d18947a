//! Text for the printer: Windows-1252, selected with `ESC t 16`, one byte per column.
//!
//! The `escpos` crate's own text path is not used: with some code pages it sends every ASCII `-`
//! as a soft hyphen, and it substitutes silently. Here every character either maps to exactly one
//! Windows-1252 byte, is folded to a documented ASCII look-alike (`Ł` → `L`), or is refused with
//! the field it came from, so a receipt never prints something other than what it says.
//!
//! Control characters are always refused: a name containing `ESC @` or `DLE EOT` would otherwise
//! inject printer commands into the job.

use crate::error::ReceiptError;
use encoding_rs::WINDOWS_1252;

/// `ESC t 16`: select character code table 16, Windows-1252 (WPC1252).
pub const SELECT_CP1252: [u8; 3] = [0x1B, b't', 16];

/// Encodes `text` to Windows-1252, one byte per character.
///
/// `field` names the receipt field in the error. Characters outside Windows-1252 are folded
/// with [`fold`] where a plain look-alike exists; anything else is refused.
pub fn encode(text: &str, field: &'static str) -> Result<Vec<u8>, ReceiptError> {
    let mut out = Vec::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_control() {
            return Err(ReceiptError::ControlCharacter { field, ch });
        }
        if ch.is_ascii() {
            out.push(ch as u8);
            continue;
        }
        if let Some(byte) = encode_char(ch) {
            out.push(byte);
            continue;
        }
        match fold(ch) {
            Some(folded) => out.push(folded as u8),
            None => return Err(ReceiptError::Unprintable { field, ch }),
        }
    }
    Ok(out)
}

/// Encodes an identifier that must print exactly (validation number, URL, ids): printable ASCII only.
pub fn encode_exact(text: &str, field: &'static str) -> Result<Vec<u8>, ReceiptError> {
    for ch in text.chars() {
        if !(' '..='~').contains(&ch) {
            if ch.is_control() {
                return Err(ReceiptError::ControlCharacter { field, ch });
            }
            return Err(ReceiptError::Unprintable { field, ch });
        }
    }
    Ok(text.as_bytes().to_vec())
}

/// The single Windows-1252 byte for `ch`, if there is one.
pub fn encode_char(ch: char) -> Option<u8> {
    let mut buf = [0u8; 4];
    let s = ch.encode_utf8(&mut buf);
    let (bytes, _, had_errors) = WINDOWS_1252.encode(s);
    if had_errors || bytes.len() != 1 {
        return None;
    }
    let byte = bytes[0];
    // 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined in Windows-1252 and map to C1 controls.
    if (0x80..0xA0).contains(&byte) && (ch as u32) < 0xA0 {
        return None;
    }
    Some(byte)
}

/// Decodes Windows-1252 bytes back to text (used by the decoder).
pub fn decode(bytes: &[u8]) -> String {
    WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// ASCII look-alikes for letters and punctuation that Windows-1252 lacks.
///
/// Central European letters lose their diacritic (`Ł` → `L`, `ő` → `o`); dashes and the minus
/// sign become `-`. Letters Windows-1252 has (`é`, `ü`, `Š`, `ž`, `–`, `€`) are never folded.
pub fn fold(ch: char) -> Option<char> {
    let folded = match ch {
        'Ł' => 'L',
        'ł' => 'l',
        'Ą' | 'Ă' | 'Ā' => 'A',
        'ą' | 'ă' | 'ā' => 'a',
        'Ć' | 'Č' => 'C',
        'ć' | 'č' => 'c',
        'Ď' | 'Đ' => 'D',
        'ď' | 'đ' => 'd',
        'Ę' | 'Ě' | 'Ē' => 'E',
        'ę' | 'ě' | 'ē' => 'e',
        'Ğ' => 'G',
        'ğ' => 'g',
        'İ' | 'Ī' => 'I',
        'ı' | 'ī' => 'i',
        'Ń' | 'Ň' => 'N',
        'ń' | 'ň' => 'n',
        'Ő' | 'Ō' => 'O',
        'ő' | 'ō' => 'o',
        'Ř' => 'R',
        'ř' => 'r',
        'Ś' | 'Ş' | 'Ș' => 'S',
        'ś' | 'ş' | 'ș' => 's',
        'Ť' | 'Ţ' | 'Ț' => 'T',
        'ť' | 'ţ' | 'ț' => 't',
        'Ů' | 'Ű' | 'Ū' => 'U',
        'ů' | 'ű' | 'ū' => 'u',
        'Ź' | 'Ż' => 'Z',
        'ź' | 'ż' => 'z',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2212}' => '-',
        '\u{2009}' | '\u{202F}' | '\u{2007}' => ' ',
        _ => return None,
    };
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_hyphen_is_sent_as_0x2d_not_a_soft_hyphen() {
        assert_eq!(encode("a-b", "t").unwrap(), b"a-b".to_vec());
    }

    #[test]
    fn accented_names_map_to_their_cp1252_bytes() {
        assert_eq!(
            encode("José Müller", "operator").unwrap(),
            vec![b'J', b'o', b's', 0xE9, b' ', b'M', 0xFC, b'l', b'l', b'e', b'r']
        );
        assert_eq!(
            decode(&encode("José Müller", "operator").unwrap()),
            "José Müller"
        );
    }

    #[test]
    fn en_dash_and_euro_have_their_cp1252_codes() {
        assert_eq!(encode("1001\u{2013}1005", "d").unwrap()[4], 0x96);
        assert_eq!(encode("€5.00", "p").unwrap()[0], 0x80);
    }

    #[test]
    fn letters_outside_cp1252_are_folded_or_refused() {
        assert_eq!(
            encode("Łukasz Wałęsa", "op").unwrap(),
            b"Lukasz Walesa".to_vec()
        );
        assert_eq!(
            encode("Raffle 🎟", "eventName"),
            Err(ReceiptError::Unprintable {
                field: "eventName",
                ch: '🎟'
            })
        );
    }

    #[test]
    fn control_characters_are_refused_so_nothing_can_inject_commands() {
        assert_eq!(
            encode("Bob\u{1b}@", "operatorName"),
            Err(ReceiptError::ControlCharacter {
                field: "operatorName",
                ch: '\u{1b}'
            })
        );
        assert!(encode("x\u{10}\u{4}\u{1}", "f").is_err());
        assert!(encode("x\u{85}", "f").is_err());
    }

    #[test]
    fn exact_fields_take_printable_ascii_only() {
        assert!(encode_exact("RSU001-2026-000123-K7QF", "v").is_ok());
        assert!(encode_exact("RSU001–2026", "v").is_err());
    }
}
