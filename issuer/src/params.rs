//! OAuth request parameters (`application/x-www-form-urlencoded`, in a query
//! or a form body): each at most once (RFC 6749 §3.1, §3.2), except the
//! parameters RFC 8707 lets repeat.

use std::collections::HashMap;

/// At most this many parameters are read from one request.
const MAX_PARAMS: usize = 64;

/// Parameters that may appear more than once: RFC 8707 §2 `resource`.
const REPEATABLE: &[&str] = &["resource"];

/// Why a request's parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ParamError {
    /// A parameter other than `resource` given twice.
    Repeated(String),
    /// More than [`MAX_PARAMS`] parameters.
    TooMany,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Repeated(name) => write!(f, "parameter {name} given more than once"),
            ParamError::TooMany => write!(f, "more than {MAX_PARAMS} parameters"),
        }
    }
}

/// Decoded parameters; empty values count as absent (RFC 6749 §3.1).
#[derive(Debug, Default, Clone)]
pub(super) struct Params {
    single: HashMap<String, String>,
    resources: Vec<String>,
}

impl Params {
    pub(super) fn parse(encoded: &[u8]) -> Result<Self, ParamError> {
        let mut params = Params::default();
        for (count, (name, value)) in url::form_urlencoded::parse(encoded).enumerate() {
            if count == MAX_PARAMS {
                return Err(ParamError::TooMany);
            }
            if value.is_empty() {
                continue;
            }
            if REPEATABLE.contains(&name.as_ref()) {
                params.resources.push(value.into_owned());
            } else if params
                .single
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(ParamError::Repeated(name.into_owned()));
            }
        }
        Ok(params)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.single.get(name).map(String::as_str)
    }

    /// Every `resource` parameter, in order.
    pub(super) fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The parameters as pairs (for the consent form), `resource` repeated.
    pub(super) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.single
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(self.resources.iter().map(|r| ("resource", r.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parameter_once_resource_repeats_empty_is_absent() {
        let p = Params::parse(b"a=1&resource=x&resource=y&b=").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.resources(), ["x", "y"]);
        assert_eq!(
            Params::parse(b"code=1&code=2").unwrap_err(),
            ParamError::Repeated("code".into())
        );
        let many: String = (0..65).map(|i| format!("p{i}=v&")).collect();
        assert_eq!(Params::parse(many.as_bytes()).unwrap_err(), ParamError::TooMany);
        assert_eq!(Params::parse(b"x=%20y").unwrap().get("x"), Some(" y"));
    }
}
