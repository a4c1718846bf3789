//! Fuzzes `Message::decode` with an arbitrary command and payload: no input panics it, an
//! accepted payload re-encodes to exactly the same bytes, and an unknown command is skipped
//! with its payload length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_net::message::COMMANDS;
use parthenon_net::Message;

/// First-byte values below this pick a known command (most runs); the rest read a command
/// of 0 to 12 bytes from the input.
const KNOWN_SELECTORS: u8 = 16 * COMMANDS.len() as u8;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (command, payload) = if selector < KNOWN_SELECTORS {
        (COMMANDS[selector as usize % COMMANDS.len()], rest)
    } else {
        let n = (usize::from(selector - KNOWN_SELECTORS) % 13).min(rest.len());
        let Ok(command) = std::str::from_utf8(&rest[..n]) else {
            return;
        };
        (command, &rest[n..])
    };
    match Message::decode(command, payload) {
        Ok(Message::Unknown { command: c, len }) => {
            assert_eq!(c.as_str(), command);
            assert_eq!(len, payload.len());
            assert!(!COMMANDS.contains(&command), "known command skipped");
        }
        Ok(message) => {
            assert_eq!(message.command(), command);
            assert_eq!(message.encode_payload(), payload, "non-canonical payload");
        }
        Err(_) => {}
    }
});
