//! Text as callers send it: what a name, a reason or a reference may be,
//! checked by plain functions, and the same rules as JSON Schema string
//! types for the contract (`#[schema(value_type = Text200)]` on a field
//! checked with `text(…, 200)`).

/// An identifier a caller chooses (a customer reference): 1 to `max`
/// characters, taken exactly as sent, with no control characters and no
/// whitespace at either end. It goes into URLs and headers as it is.
pub fn identifier(raw: &str, max: usize) -> Result<String, String> {
    let count = raw.chars().count();
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_whitespace());
    if count == 0 || count > max {
        Err(format!("must be 1 to {max} characters"))
    } else if raw.chars().any(char::is_control) {
        Err("must not contain control characters".to_owned())
    } else if edge(raw.chars().next()) || edge(raw.chars().last()) {
        Err("must not start or end with whitespace".to_owned())
    } else {
        Ok(raw.to_owned())
    }
}

/// The JSON Schema pattern of [`identifier`] (without its length). Blanks
/// are spelled out rather than `\s`, which means other characters in other
/// regex dialects: these are exactly what `char::is_whitespace` and
/// `char::is_control` call so.
pub const IDENTIFIER_PATTERN: &str = r"^[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]([^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?$";

/// Free text such as a name: 1 to `max` characters as sent, not all blank,
/// no control characters ([`TEXT_PATTERN`]); kept trimmed.
pub fn text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || raw.chars().count() > max {
        Err(format!("must be 1 to {max} characters, not all blank"))
    } else if raw.chars().any(char::is_control) {
        Err("must not contain control characters".to_owned())
    } else {
        Ok(trimmed.to_owned())
    }
}

/// The JSON Schema pattern of [`text`] (without its length).
pub const TEXT_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$";

/// Declares schema-only string types that document what a validator
/// enforces, for `#[schema(value_type = …)]` on the DTO fields it checks.
#[macro_export]
macro_rules! string_schemas {
    ($($(#[doc = $doc:literal])* $name:ident = ($min:expr, $max:expr, $pattern:expr);)*) => {$(
        $(#[doc = $doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc),*];
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .min_length(Some($min))
                    .max_length(Some($max))
                    .pattern(Some($pattern))
                    .description(Some(doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    )*};
}

crate::string_schemas! {
    /// Text of 1 to 20 characters, not all blank, no control characters.
    Text20 = (1, 20, TEXT_PATTERN);
    /// Text of 1 to 40 characters, not all blank, no control characters.
    Text40 = (1, 40, TEXT_PATTERN);
    /// Text of 1 to 64 characters, not all blank, no control characters.
    Text64 = (1, 64, TEXT_PATTERN);
    /// Text of 1 to 100 characters, not all blank, no control characters.
    Text100 = (1, 100, TEXT_PATTERN);
    /// Text of 1 to 200 characters, not all blank, no control characters.
    Text200 = (1, 200, TEXT_PATTERN);
    /// Text of 1 to 500 characters, not all blank, no control characters.
    Text500 = (1, 500, TEXT_PATTERN);
    /// A reference chosen by the retailer: 1 to 200 characters, no control
    /// characters, no whitespace at either end.
    Reference = (1, 200, IDENTIFIER_PATTERN);
    /// A code: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    CodeText = (1, 64, crate::types::Code::PATTERN);
    /// A rate in percent, 0 to 100 with up to 4 decimals, e.g. `"19"` or `"8.875"`.
    RatePercent = (1, 8, crate::types::RATE_PATTERN);
    /// A percent off, above 0 and at most 100 with up to 2 decimals, e.g. `"10"`.
    DiscountPercent = (1, 6, crate::types::DISCOUNT_PATTERN);
}
