//! The cipher-suite policy over real loopback TLS: what each side offers decides the suite
//! both ends report, and a node whose `crypto.aes` is `software` never negotiates AES.

use parthenon_net::tls::{CipherSuitePolicy, NodeIdentity, TlsTransport};
use parthenon_net::transport::{Connection, ConnectionSecurity, PeerSpec, TcpTransport, Transport};
use rustls::CipherSuite;
use std::time::Duration;
use tokio::time::timeout;

const STEP: Duration = Duration::from_secs(10);

fn node(policy: CipherSuitePolicy) -> TlsTransport<TcpTransport> {
    let identity = NodeIdentity::generate().unwrap();
    let t = TlsTransport::new(TcpTransport::new(), &identity)
        .unwrap()
        .with_cipher_suites(policy)
        .unwrap();
    assert_eq!(t.cipher_suites(), policy);
    t
}

fn suite_of(c: &Connection) -> Option<CipherSuite> {
    match c.security {
        ConnectionSecurity::Tls { cipher_suite, .. } => cipher_suite,
        ConnectionSecurity::Plaintext => panic!("a TLS transport made a plaintext connection"),
    }
}

/// The suite the dialler and the listener each report for one connection.
async fn negotiate(
    dialler: CipherSuitePolicy,
    listener: CipherSuitePolicy,
) -> (Option<CipherSuite>, Option<CipherSuite>) {
    let server = node(listener);
    let client = node(dialler);
    let mut l = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = l.local_addr();
    let target = PeerSpec::new(addr.ip().to_string(), addr.port());
    let (out, inb) = tokio::join!(
        timeout(STEP, client.dial(&target)),
        timeout(STEP, l.accept())
    );
    let (out, inb) = (out.unwrap().unwrap(), inb.unwrap().unwrap());
    (suite_of(&out), suite_of(&inb))
}

#[tokio::test]
async fn aes_first_nodes_negotiate_aes_256_gcm() {
    let both = negotiate(CipherSuitePolicy::AesFirst, CipherSuitePolicy::AesFirst).await;
    let aes = Some(CipherSuite::TLS13_AES_256_GCM_SHA384);
    assert_eq!(both, (aes, aes));
}

#[tokio::test]
async fn a_software_aes_node_negotiates_chacha20_either_way() {
    let chacha = Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    for (dialler, listener) in [
        (
            CipherSuitePolicy::ChaCha20Only,
            CipherSuitePolicy::ChaCha20Only,
        ),
        (CipherSuitePolicy::ChaCha20Only, CipherSuitePolicy::AesFirst),
        (CipherSuitePolicy::AesFirst, CipherSuitePolicy::ChaCha20Only),
    ] {
        assert_eq!(
            negotiate(dialler, listener).await,
            (chacha, chacha),
            "dialler {dialler:?}, listener {listener:?}"
        );
    }
}

#[test]
fn the_policies_list_their_suites_in_order() {
    assert_eq!(
        CipherSuitePolicy::AesFirst.suite_names(),
        [
            "TLS13_AES_256_GCM_SHA384",
            "TLS13_AES_128_GCM_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256"
        ]
    );
    assert_eq!(
        CipherSuitePolicy::ChaCha20Only.suite_names(),
        ["TLS13_CHACHA20_POLY1305_SHA256"]
    );
    assert!(CipherSuitePolicy::AesFirst.uses_aes());
    assert!(!CipherSuitePolicy::ChaCha20Only.uses_aes());
    let provider = CipherSuitePolicy::ChaCha20Only.provider();
    assert!(provider
        .cipher_suites
        .iter()
        .all(|s| s.suite() == CipherSuite::TLS13_CHACHA20_POLY1305_SHA256));
}
