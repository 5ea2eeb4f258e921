//! TLS for AMI (`tls = true` on a server).

use std::sync::Arc;

use ami_client::TlsConfig;
use ami_client::pin::Fingerprint;
use anyhow::Context;

use crate::config::ServerConfig;

/// The server's TLS: with `tlsFingerprint`, exactly that certificate (a
/// PBX's own self-signed one); else a rustls configuration trusting the
/// system's certificate store plus the PEM bundle of `tlsCaFile` (else
/// `BIGCHAT_VOICE_AMI_CA_FILE`), for a PBX with a private CA.
pub fn client_tls(server: &ServerConfig) -> anyhow::Result<TlsConfig> {
    let host = server.host.as_str();
    if let Some(pin) = &server.tls_fingerprint {
        let pin = Fingerprint::parse(pin).with_context(|| {
            format!(
                "server {:?}: tlsFingerprint is not a SHA-256 fingerprint (64 hex digits, \
                 `:` between bytes allowed, as `openssl x509 -noout -fingerprint -sha256` prints)",
                server.name
            )
        })?;
        return Ok(TlsConfig::pinned(pin, host.to_owned()));
    }
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A single unreadable system certificate is no reason to fail.
        let _ = roots.add(cert);
    }
    let ca_file = server
        .tls_ca_file
        .as_ref()
        .map(|p| p.display().to_string())
        .or_else(|| std::env::var("BIGCHAT_VOICE_AMI_CA_FILE").ok());
    if let Some(path) = ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for cert in CertificateDer::pem_file_iter(&path)
            .with_context(|| format!("cannot read CA file {path}"))?
        {
            let cert = cert.with_context(|| format!("bad certificate in {path}"))?;
            roots
                .add(cert)
                .with_context(|| format!("unusable certificate in {path}"))?;
        }
    }
    if roots.is_empty() {
        anyhow::bail!(
            "TLS requested but no trusted certificates were found (install the system CA \
             certificates, set tlsCaFile, or pin the PBX's certificate with tlsFingerprint)"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfig::new(Arc::new(config), host.to_owned()))
}
