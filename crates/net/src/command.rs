//! Command names: the 12-byte, NUL-padded field that says what a frame's payload is.

use std::fmt;

/// Bytes of the command field in a frame header.
pub const COMMAND_LEN: usize = 12;

/// A valid command name: 1 to 12 printable ASCII characters (`!` to `~`, no spaces).
///
/// On the wire it is padded with NUL bytes to [`COMMAND_LEN`]; a field with a non-NUL byte
/// after the first NUL, a byte outside printable ASCII, or no character at all is not a
/// command. Because the padding is fixed, every command has exactly one wire form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command(String);

impl Command {
    /// The command `name`, if it is a valid command name.
    pub fn new(name: &str) -> Option<Command> {
        let valid = !name.is_empty()
            && name.len() <= COMMAND_LEN
            && name.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| Command(name.to_string()))
    }

    /// Parses the wire field: the name, then only NUL bytes.
    pub fn from_wire(field: &[u8; COMMAND_LEN]) -> Option<Command> {
        let len = field.iter().position(|&b| b == 0).unwrap_or(COMMAND_LEN);
        if field[len..].iter().any(|&b| b != 0) {
            return None;
        }
        let name = std::str::from_utf8(&field[..len]).ok()?;
        Command::new(name)
    }

    /// The wire field: the name padded with NUL bytes.
    pub fn to_wire(&self) -> [u8; COMMAND_LEN] {
        wire_field(&self.0)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Pads a name of at most [`COMMAND_LEN`] bytes with NULs (callers pass valid names only;
/// anything longer would be cut, which no valid name is).
pub(crate) fn wire_field(name: &str) -> [u8; COMMAND_LEN] {
    let mut field = [0u8; COMMAND_LEN];
    let n = name.len().min(COMMAND_LEN);
    field[..n].copy_from_slice(&name.as_bytes()[..n]);
    field
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_form_is_nul_padded() {
        let c = Command::new("ping").expect("valid");
        assert_eq!(&c.to_wire(), b"ping\0\0\0\0\0\0\0\0");
        assert_eq!(Command::from_wire(&c.to_wire()), Some(c));
        let full = *b"getheadersXY";
        assert_eq!(
            Command::from_wire(&full).map(|c| c.as_str().to_string()),
            Some("getheadersXY".to_string())
        );
    }

    #[test]
    fn invalid_fields_are_rejected() {
        assert_eq!(Command::from_wire(&[0; COMMAND_LEN]), None, "empty");
        assert_eq!(
            Command::from_wire(b"ping\0x\0\0\0\0\0\0"),
            None,
            "non-NUL after NUL"
        );
        assert_eq!(Command::from_wire(b"p\xffng\0\0\0\0\0\0\0\0"), None);
        assert_eq!(Command::from_wire(b"pi ng\0\0\0\0\0\0\0"), None, "space");
        assert_eq!(Command::from_wire(b"pi\nng\0\0\0\0\0\0\0"), None, "control");
        assert_eq!(Command::new("thirteen_char"), None, "too long");
        assert_eq!(Command::new("é"), None, "not ASCII");
    }

    proptest! {
        #[test]
        fn any_field_parses_to_its_own_wire_form_or_nothing(field in any::<[u8; COMMAND_LEN]>()) {
            if let Some(c) = Command::from_wire(&field) {
                prop_assert_eq!(c.to_wire(), field);
            }
        }

        #[test]
        fn valid_names_round_trip(name in "[!-~]{1,12}") {
            let c = Command::new(&name).expect("printable ASCII");
            prop_assert_eq!(Command::from_wire(&c.to_wire()), Some(c.clone()));
            prop_assert_eq!(c.as_str(), name.as_str());
        }
    }
}
