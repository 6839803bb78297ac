//! Credentials and definition variables (seeds 003 and 004's `user_credentials` and `workflow_variable`). Secret values arrive and leave encrypted: the store never sees plaintext.

use async_trait::async_trait;

/// Reading credentials and variables (ciphertext included; only the engine decrypts).
#[async_trait]
pub trait CredentialRead {}

/// Changing credentials and variables, inside a transaction.
#[async_trait]
pub trait CredentialWrite {}
