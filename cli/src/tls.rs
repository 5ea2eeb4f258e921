//! TLS for AMI (`tls = true` on a server).

use std::sync::Arc;

use ami_client::TlsConfig;
use anyhow::Context;

/// A rustls client configuration trusting the system's certificate store,
/// plus the PEM bundle named by `BIGCHAT_VOICE_AMI_CA_FILE` if set
/// (for a PBX with a private CA).
pub fn client_tls(host: &str) -> anyhow::Result<TlsConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A single unreadable system certificate is no reason to fail.
        let _ = roots.add(cert);
    }
    if let Ok(path) = std::env::var("BIGCHAT_VOICE_AMI_CA_FILE") {
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
             certificates or set BIGCHAT_VOICE_AMI_CA_FILE)"
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
