//! Values as they travel between the store and either database: bound parameters, and
//! the columns the copy between databases reads. A leaf module, so that the drivers and
//! the statement builders can share it without depending on each other.

/// A bound value, typed so that PostgreSQL receives typed parameters (nulls included).
#[derive(Debug, Clone)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

/// How a column's values travel.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Int,
    Text,
    Bool,
    Bytes,
}
