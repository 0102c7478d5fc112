//! [`Downstream`]: what an exchanged token is asked for.

use super::{ACCESS_TOKEN_TYPE, ExchangeConfigError};
use crate::{Scopes, digest};

/// The downstream an exchanged token is for: its audience (RFC 8693
/// `audience`) or resource (RFC 8707 `resource`), the scopes wanted, and the
/// token type asked for (an access token unless changed).
///
/// ```
/// use tower_bearer::Scopes;
/// use tower_bearer::exchange::Downstream;
/// let api = Downstream::resource("https://api.example/v1").unwrap().scopes(Scopes::parse("read"));
/// assert!(Downstream::resource("https://api.example/#frag").is_err());
/// assert!(Downstream::audience("").is_err());
/// # let _ = api;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    pub(super) audiences: Vec<String>,
    pub(super) resources: Vec<String>,
    pub(super) scopes: Scopes,
    pub(super) requested_token_type: String,
    /// The cache key's downstream half, kept up to date by every setter.
    pub(super) key: [u8; 32],
}

impl Downstream {
    fn new(audiences: Vec<String>, resources: Vec<String>) -> Self {
        Downstream {
            audiences,
            resources,
            scopes: Scopes::default(),
            requested_token_type: ACCESS_TOKEN_TYPE.to_owned(),
            key: [0; 32],
        }
        .rekeyed()
    }

    /// A downstream named by its resource URI (absolute, no fragment): the
    /// exchanged token's `aud`.
    ///
    /// # Errors
    /// [`ExchangeConfigError::BadValue`] when `uri` is not an absolute URI
    /// without a fragment.
    ///
    /// See [`Downstream`] for an example.
    pub fn resource(uri: impl Into<String>) -> Result<Self, ExchangeConfigError> {
        let uri = uri.into();
        let ok = url::Url::parse(&uri).is_ok_and(|u| u.fragment().is_none());
        if !ok || !printable(&uri) {
            return Err(ExchangeConfigError::BadValue("resource"));
        }
        Ok(Self::new(Vec::new(), vec![uri]))
    }

    /// A downstream named by a logical audience the authorization server knows.
    ///
    /// # Errors
    /// [`ExchangeConfigError::BadValue`] when `audience` is empty or not
    /// printable ASCII.
    ///
    /// See [`Downstream`] for an example.
    pub fn audience(audience: impl Into<String>) -> Result<Self, ExchangeConfigError> {
        let audience = audience.into();
        if !printable(&audience) {
            return Err(ExchangeConfigError::BadValue("audience"));
        }
        Ok(Self::new(vec![audience], Vec::new()))
    }

    /// The scopes asked for (none: whatever the authorization server grants).
    ///
    /// See [`Downstream`] for an example.
    #[must_use]
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self.rekeyed()
    }

    /// RFC 8693 `requested_token_type` (default [`ACCESS_TOKEN_TYPE`]).
    ///
    /// # Errors
    /// [`ExchangeConfigError::BadValue`] when empty or not printable ASCII.
    ///
    /// ```
    /// use tower_bearer::exchange::Downstream;
    /// let d = Downstream::audience("api").unwrap().requested_token_type("urn:ietf:params:oauth:token-type:jwt").unwrap();
    /// # let _ = d;
    /// ```
    pub fn requested_token_type(
        mut self,
        token_type: impl Into<String>,
    ) -> Result<Self, ExchangeConfigError> {
        let token_type = token_type.into();
        if !printable(&token_type) {
            return Err(ExchangeConfigError::BadValue("requested_token_type"));
        }
        self.requested_token_type = token_type;
        Ok(self.rekeyed())
    }

    /// Recomputes the cache key's downstream half: every field, unambiguously.
    fn rekeyed(mut self) -> Self {
        let audiences = self.audiences.join(" ");
        let resources = self.resources.join(" ");
        let scopes = self.scopes.to_string();
        self.key = digest::length_prefixed([
            Some(&audiences),
            Some(&resources),
            Some(&scopes),
            Some(&self.requested_token_type),
        ]);
        self
    }
}

pub(super) fn printable(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downstream_keys_differ_by_every_field() {
        let a = Downstream::audience("api").unwrap();
        let keys = [
            a.key,
            Downstream::audience("api2").unwrap().key,
            Downstream::resource("https://api").unwrap().key,
            a.clone().scopes(Scopes::parse("read")).key,
            a.clone().requested_token_type("urn:x").unwrap().key,
        ];
        for (i, k) in keys.iter().enumerate() {
            for other in &keys[i + 1..] {
                assert_ne!(k, other);
            }
        }
        assert_eq!(a.key, Downstream::audience("api").unwrap().key);
    }
}
