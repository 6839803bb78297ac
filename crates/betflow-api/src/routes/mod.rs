pub mod debug;
pub mod system;
