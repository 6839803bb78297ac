//! The sportsbook of seed 002: its catalog (sports to selections) and odds.
//!
//! Pure rules only; the store keeps the rows and the engine moves them.

pub mod catalog;
pub mod customers;
pub mod limits;
pub mod odds;
