pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod debug;
pub mod dto;
pub mod system;
pub mod users;
pub mod workflows;
