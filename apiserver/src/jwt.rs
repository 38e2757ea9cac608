//! Compact JWS with ES256 (ECDSA P-256, SHA-256): enough JWT for service-account tokens,
//! which this server both issues and verifies. The key lives in `<data-dir>/pki/sa.key` and
//! survives restarts, so tokens handed out before a restart stay valid.

use std::path::Path;

use anyhow::{Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};

/// The DER prefix that turns an uncompressed P-256 point into a SubjectPublicKeyInfo.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

pub struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// `kid`: base64url of the SHA-256 of the public key's SPKI DER, as upstream derives it.
    key_id: String,
}

impl Signer {
    /// Load the signing key from `dir/sa.key`, creating it on first start.
    pub fn load_or_create(dir: &Path) -> Result<Signer> {
        let path = dir.join("sa.key");
        let pem = match std::fs::read_to_string(&path) {
            Ok(p) => p,
            Err(_) => {
                let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
                let pem = key.serialize_pem();
                crate::tls::write_private(&path, &pem)?;
                pem
            }
        };
        let der = rcgen::KeyPair::from_pem(&pem)
            .with_context(|| format!("reading {}", path.display()))?
            .serialized_der()
            .to_vec();
        Signer::from_pkcs8(&der)
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Signer> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| anyhow::anyhow!("service-account key: {e}"))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        let key_id = B64.encode(ring::digest::digest(&ring::digest::SHA256, &spki));
        Ok(Signer { key, rng, key_id })
    }

    /// Sign `claims` as a compact JWS.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let header = json!({"alg": "ES256", "kid": self.key_id});
        let mut out = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, out.as_bytes())
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        out.push('.');
        out.push_str(&B64.encode(sig.as_ref()));
        Ok(out)
    }

    /// The claims of `token` if it is a JWS this key signed; `None` for anything else
    /// (another issuer's token, a tampered one, not a JWT at all).
    pub fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&B64.decode(h).ok()?).ok()?;
        if header["alg"] != "ES256" {
            return None;
        }
        let sig = B64.decode(s).ok()?;
        let signed = &token[..h.len() + 1 + c.len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key().as_ref())
            .verify(signed.as_bytes(), &sig)
            .ok()?;
        serde_json::from_slice(&B64.decode(c).ok()?).ok()
    }

    /// The public key as a JSON Web Key Set (served at `/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        let point = self.key.public_key().as_ref();
        // An uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
        let (x, y) = (&point[1..33], &point[33..65]);
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.key_id,
            "crv": "P-256",
            "alg": "ES256",
            "x": B64.encode(x),
            "y": B64.encode(y),
        }]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Signer::from_pkcs8(key.serialized_der()).unwrap()
    }

    #[test]
    fn signed_tokens_verify_and_tampering_does_not() {
        let s = signer();
        let claims = json!({"sub": "system:serviceaccount:default:default", "exp": 1});
        let token = s.sign(&claims).unwrap();
        assert_eq!(s.verify(&token), Some(claims));
        // Another key's token, a changed payload, garbage: all rejected.
        assert_eq!(signer().verify(&token), None);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = B64.encode(r#"{"sub":"system:admin"}"#);
        parts[1] = &forged;
        assert_eq!(s.verify(&parts.join(".")), None);
        assert_eq!(s.verify("not-a-jwt"), None);
        assert_eq!(s.verify("a.b.c.d"), None);
    }

    #[test]
    fn jwks_names_the_same_key_id_as_tokens() {
        let s = signer();
        let token = s.sign(&json!({})).unwrap();
        let header: Value =
            serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["kid"], s.jwks()["keys"][0]["kid"]);
        assert_eq!(
            B64.decode(s.jwks()["keys"][0]["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }
}
