//! The test kit with OAuth, whose authorization server fetches Client ID
//! Metadata Documents from loopback over https, trusting the test certificate
//! authority in the PEM file named by `GATEHOUSE_TEST_DOCUMENT_CA`. For real
//! clients that only accept https document URLs (the TypeScript SDK's
//! `clientMetadataUrl`): `tests/interop/ts-cimd.mjs`. Both switches are
//! test-only settings that no shipped server can turn on.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let ca = match std::env::var("GATEHOUSE_TEST_DOCUMENT_CA") {
        Ok(path) => match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|pem| reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string()))
        {
            Ok(cert) => cert,
            Err(e) => {
                eprintln!("documents-server: cannot read the test CA {path}: {e}");
                return ExitCode::from(2);
            }
        },
        Err(_) => {
            eprintln!("documents-server: set GATEHOUSE_TEST_DOCUMENT_CA to the test CA's PEM file");
            return ExitCode::from(2);
        }
    };
    gatehouse::run_with(
        |settings| {
            settings.oauth.documents.allow_loopback = true;
            settings.oauth.documents.trusted_roots = vec![ca];
        },
        |_store| async { Ok(gatehouse_tests::testkit::app().with_auth(gatehouse::Auth::OAuth)) },
    )
    .await
}
