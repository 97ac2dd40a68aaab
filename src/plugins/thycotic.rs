//! Placeholder until these backends are implemented.

use super::{Kwargs, LookupError};
use secrecy::SecretString;

/// Not implemented yet: answers like a plugin that is not installed.
pub async fn tss_lookup(_kw: &Kwargs) -> Result<SecretString, LookupError> {
    Err(LookupError::Kind("NotImplementedError"))
}

/// Not implemented yet: answers like a plugin that is not installed.
pub async fn dsv_lookup(_kw: &Kwargs) -> Result<SecretString, LookupError> {
    Err(LookupError::Kind("NotImplementedError"))
}
