//! The client-side certificate check: any self-signed certificate, or exactly the pinned one,
//! and always a valid TLS 1.3 handshake signature.

use crate::transport::CertFingerprint;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, DigitallySignedStruct, OtherError, PeerIncompatible, SignatureScheme,
};
use std::sync::Arc;

/// The peer presented a certificate other than the pinned one. Carried inside the rustls
/// error that fails the handshake, and turned into
/// [`TransportError::PinMismatch`](crate::transport::TransportError::PinMismatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("certificate {actual} is not the pinned {expected}")]
pub struct PinMismatch {
    /// The pinned fingerprint.
    pub expected: CertFingerprint,
    /// The fingerprint of the certificate presented.
    pub actual: CertFingerprint,
}

/// Accepts any server certificate, or only the pinned one, and verifies the TLS 1.3
/// handshake signature against it with the provider's algorithms.
#[derive(Debug)]
pub(crate) struct PeerCertVerifier {
    pin: Option<CertFingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PeerCertVerifier {
    pub(crate) fn new(pin: Option<CertFingerprint>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self { pin, algorithms }
    }
}

impl ServerCertVerifier for PeerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        check_pin(self.pin, end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is configured, so rustls never asks; refuse if it ever did.
        Err(rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The pin mismatch inside a failed handshake's error, if that is why it failed.
pub(crate) fn pin_mismatch_in(error: &std::io::Error) -> Option<PinMismatch> {
    let rustls_error = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    match rustls_error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<PinMismatch>().copied()
        }
        _ => None,
    }
}

/// Verifies the server's chain and name against trust roots (webpki), and, when pinned, that
/// the certificate is also the pinned one: [`TlsTransport::dial_verified`](super::TlsTransport::dial_verified).
#[derive(Debug)]
pub(crate) struct VerifiedPeerVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    pin: Option<CertFingerprint>,
}

impl VerifiedPeerVerifier {
    pub(crate) fn new(
        webpki: Arc<rustls::client::WebPkiServerVerifier>,
        pin: Option<CertFingerprint>,
    ) -> Self {
        Self { webpki, pin }
    }
}

impl ServerCertVerifier for VerifiedPeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        check_pin(self.pin, end_entity)?;
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Refuses `end_entity` unless it is the pinned certificate (no pin: any certificate).
fn check_pin(
    pin: Option<CertFingerprint>,
    end_entity: &CertificateDer<'_>,
) -> Result<(), rustls::Error> {
    let Some(expected) = pin else {
        return Ok(());
    };
    let actual = CertFingerprint::of(end_entity);
    if actual == expected {
        return Ok(());
    }
    Err(rustls::Error::InvalidCertificate(CertificateError::Other(
        OtherError(Arc::new(PinMismatch { expected, actual })),
    )))
}
