//! `HOST:PORT[#FINGERPRINT]` peer addresses: what `parse_peer_spec` accepts and how it
//! explains what it rejects.

use parthenon_net::transport::{parse_peer_spec, CertFingerprint, PeerSpec, PeerSpecError};

const FINGERPRINT: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[test]
fn ipv4_with_port() {
    let spec = parse_peer_spec("1.2.3.4:7333").unwrap();
    assert_eq!(spec, PeerSpec::new("1.2.3.4", 7333));
    assert_eq!(spec.addr(), "1.2.3.4:7333");
    assert_eq!(spec.to_string(), "1.2.3.4:7333");
}

#[test]
fn bracketed_ipv6_with_port() {
    let spec = parse_peer_spec("[::1]:7333").unwrap();
    assert_eq!(spec.host, "::1");
    assert_eq!(spec.port, 7333);
    assert_eq!(spec.pin, None);
    assert_eq!(spec.to_string(), "[::1]:7333");
}

#[test]
fn host_name_with_pin() {
    let spec = parse_peer_spec(&format!("host.example:7333#{FINGERPRINT}")).unwrap();
    assert_eq!(spec.host, "host.example");
    assert_eq!(spec.port, 7333);
    let pin: CertFingerprint = FINGERPRINT.parse().unwrap();
    assert_eq!(spec.pin, Some(pin));
    assert_eq!(spec.pin.unwrap().as_bytes()[..4], [0x00, 0x11, 0x22, 0x33]);
    // Display writes back what was parsed, and FromStr is the same parser.
    assert_eq!(spec.to_string(), format!("host.example:7333#{FINGERPRINT}"));
    assert_eq!(spec.to_string().parse::<PeerSpec>().unwrap(), spec);
}

#[test]
fn pinned_ipv6_and_uppercase_fingerprint() {
    let text = format!("[2001:db8::7]:18333#{}", FINGERPRINT.to_uppercase());
    let spec = parse_peer_spec(&text).unwrap();
    assert_eq!(spec.host, "2001:db8::7");
    assert_eq!(spec.pin, Some(FINGERPRINT.parse().unwrap()));
}

#[test]
fn short_fingerprint_is_rejected_with_its_length() {
    let err = parse_peer_spec("1.2.3.4:7333#abcd").unwrap_err();
    assert!(
        matches!(&err, PeerSpecError::BadFingerprint { fingerprint, .. } if fingerprint == "abcd"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("1.2.3.4:7333#abcd"), "{message}");
    assert!(message.contains("4 hex digits, expected 64"), "{message}");
}

#[test]
fn non_hex_fingerprint_is_rejected_naming_the_character() {
    let bad = format!("{}zz", &FINGERPRINT[..62]);
    let err = parse_peer_spec(&format!("1.2.3.4:7333#{bad}")).unwrap_err();
    assert!(
        matches!(err, PeerSpecError::BadFingerprint { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("'z'"), "{err}");
}

#[test]
fn empty_fingerprint_is_rejected() {
    let err = parse_peer_spec("1.2.3.4:7333#").unwrap_err();
    assert!(
        matches!(err, PeerSpecError::BadFingerprint { .. }),
        "{err:?}"
    );
}

#[test]
fn out_of_range_and_non_numeric_ports_are_rejected() {
    for (text, port) in [
        ("1.2.3.4:65536", "65536"),
        ("1.2.3.4:0", "0"),
        ("1.2.3.4:abc", "abc"),
        ("[::1]:", ""),
        ("host.example:-1", "-1"),
    ] {
        let err = parse_peer_spec(text).unwrap_err();
        assert_eq!(
            err,
            PeerSpecError::BadPort {
                spec: text.to_owned(),
                port: port.to_owned()
            }
        );
        assert!(err.to_string().contains("from 1 to 65535"), "{err}");
    }
}

#[test]
fn missing_port_is_rejected_with_an_example() {
    for text in ["1.2.3.4", "[::1]", "host.example"] {
        let err = parse_peer_spec(text).unwrap_err();
        assert_eq!(
            err,
            PeerSpecError::MissingPort {
                spec: text.to_owned()
            }
        );
        assert!(err.to_string().contains("HOST:PORT"), "{err}");
    }
}

#[test]
fn unbracketed_ipv6_is_rejected() {
    let err = parse_peer_spec("::1:7333").unwrap_err();
    assert_eq!(
        err,
        PeerSpecError::UnbracketedIpv6 {
            spec: "::1:7333".to_owned()
        }
    );
    assert!(err.to_string().contains("[::1]:7333"), "{err}");
}

#[test]
fn bad_hosts_are_rejected() {
    assert_eq!(
        parse_peer_spec(":7333").unwrap_err(),
        PeerSpecError::EmptyHost {
            spec: ":7333".to_owned()
        }
    );
    assert!(matches!(
        parse_peer_spec("[1.2.3.4]:7333").unwrap_err(),
        PeerSpecError::BadIpv6 { host, .. } if host == "[1.2.3.4]"
    ));
    assert!(matches!(
        parse_peer_spec("[::1:7333").unwrap_err(),
        PeerSpecError::BadIpv6 { .. }
    ));
    for host in ["bad host", "under_score.example", "-lead.example", "a..b"] {
        let text = format!("{host}:7333");
        assert_eq!(
            parse_peer_spec(&text).unwrap_err(),
            PeerSpecError::BadHost {
                spec: text.clone(),
                host: host.to_owned()
            }
        );
    }
}
