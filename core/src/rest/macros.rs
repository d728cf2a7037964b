//! Small internal macros: string enums with an `Other` fallback, and option setters.

/// A string enum: known values as variants, anything else kept in `Other(String)`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this SDK version does not know (kept verbatim).
            Other(String),
        }

        impl $name {
            /// The wire form.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Other(s) => s,
                }
            }

            /// Whether this is one of the known values.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }

            /// The known values' wire forms.
            pub const KNOWN: &'static [&'static str] = &[$($wire),*];
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::from(s.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s))
            }
        }
    };
}

/// Chainable setters for `Option` fields: `fn field(mut self, v: impl Into<T>) -> Self`.
macro_rules! setters {
    ($ty:ident { $($field:ident : $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                pub fn $field(mut self, v: impl Into<$t>) -> Self {
                    self.$field = Some(v.into());
                    self
                }
            )*
        }
    };
}

/// Chainable setters for list filters (`Vec` fields, sent as repeated query keys).
macro_rules! list_setters {
    ($ty:ident { $($field:ident : $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets the `", stringify!($field), "` filter (sent as repeated keys).")]
                pub fn $field<I: IntoIterator<Item = V>, V: Into<$t>>(mut self, v: I) -> Self {
                    self.$field = v.into_iter().map(Into::into).collect();
                    self
                }
            )*
        }
    };
}

/// Pagination setters and the [`crate::rest::PagedRequest`] impl for a list request with
/// `limit`, `cursor_after` and `cursor_before` fields.
macro_rules! paged {
    ($ty:ident => $item:ty) => {
        impl $ty {
            /// Sets the page size.
            pub fn limit(mut self, limit: u32) -> Self {
                self.limit = Some(limit);
                self
            }
            /// Starts after this cursor (a page's `next_cursor`).
            pub fn cursor_after(mut self, cursor: impl Into<String>) -> Self {
                self.cursor_after = Some(cursor.into());
                self
            }
            /// Ends before this cursor (a page's `previous_cursor`).
            pub fn cursor_before(mut self, cursor: impl Into<String>) -> Self {
                self.cursor_before = Some(cursor.into());
                self
            }
        }

        impl $crate::rest::PagedRequest for $ty {
            type Item = $item;
            fn cursor_after_value(&self) -> Option<&str> {
                self.cursor_after.as_deref()
            }
            fn with_cursor_after(&self, cursor: String) -> Self {
                let mut next = self.clone();
                next.cursor_after = Some(cursor);
                next.cursor_before = None;
                next
            }
        }
    };
}

/// A request addressed by one id only (retrieve, delete, …).
macro_rules! by_id {
    ($(#[$meta:meta])* $ty:ident, $field:ident, $method:ident, $fmt:literal, $resp:ty, $parse:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty {
            #[doc = concat!("The `", stringify!($field), "`.")]
            pub $field: String,
        }

        impl $ty {
            #[doc = concat!("For this `", stringify!($field), "`.")]
            pub fn new($field: impl Into<String>) -> Self {
                $ty { $field: $field.into() }
            }
        }

        impl $crate::rest::TelerRequest for $ty {
            type Response = $resp;
            fn to_http(
                &self,
                cfg: &$crate::rest::RestConfig,
            ) -> Result<http::Request<Vec<u8>>, $crate::rest::Error> {
                let id = $crate::rest::id_segment(stringify!($field), &self.$field)?;
                $crate::rest::Parts::new(http::Method::$method, format!($fmt, id)).build(cfg)
            }
            fn parse(
                &self,
                resp: http::Response<Vec<u8>>,
            ) -> Result<$resp, $crate::rest::Error> {
                $crate::rest::$parse(resp)
            }
        }
    };
}
