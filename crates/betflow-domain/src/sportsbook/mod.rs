//! The sportsbook of seed 002: its catalog (sports to selections) and odds.
//!
//! Pure rules only; the store keeps the rows and the engine moves them.

/// A closed set of names stored and sent as snake_case strings: `as_str`, `parse`, `ALL`.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

pub mod bets;
pub mod catalog;
pub mod customers;
pub mod limits;
pub mod odds;
pub mod placement;
pub mod wallet;
