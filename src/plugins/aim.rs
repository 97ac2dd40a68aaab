//! Placeholder until this backend is implemented.

use super::{Kwargs, LookupError};
use secrecy::SecretString;

/// Not implemented yet: answers like a plugin that is not installed.
pub async fn lookup(_kw: &Kwargs) -> Result<SecretString, LookupError> {
    Err(LookupError::Kind("NotImplementedError"))
}
