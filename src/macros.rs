//! Crate-private macros.

/// The inner-service accessors every service of this crate has (as in
/// tower-http): `get_ref`, `get_mut` (documented with `$example`) and
/// `into_inner`. The service must keep its inner service in a field `inner`.
macro_rules! inner_service_accessors {
    ($example:literal) => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        ///
        #[doc = $example]
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Consumes the service, returning the inner one.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

pub(crate) use inner_service_accessors;
