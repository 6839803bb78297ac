//! Credentials and definition variables (seeds 003 and 004's `user_credentials` and `workflow_variable`), compiled once per backend.

use async_trait::async_trait;

use super::{BackendStore, BackendTx};
use crate::{CredentialRead, CredentialWrite};

#[async_trait]
impl CredentialRead for BackendStore {}

#[async_trait]
impl CredentialWrite for BackendTx {}
