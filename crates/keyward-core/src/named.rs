//! Enums known by one fixed name per variant.

/// An enum each of whose variants has one name: what the store keeps, the
/// APIs serialise and the CLI parses. Defines the enum, `ALL` (every
/// variant in declaration order), `as_str`, `Display` (the name) and
/// `FromStr` (the exact name, case-sensitive; anything else is
/// `$unknown(input)`). Serde attributes go on the enum as usual.
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident, unknown: $unknown:ident {
            $($(#[$vmeta:meta])* $variant:ident => $str:literal,)+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: [$name; [$($str),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $str,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $unknown;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $name::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| $unknown(s.to_string()))
            }
        }
    };
}
