//! Serialising user values into JSON while refusing non-finite numbers.
//!
//! `serde_json` silently turns NaN and infinity into `null`; an audit record
//! must not change a value behind the caller's back, so values given to the
//! builder are first checked by this serializer, which does nothing but look
//! for non-finite floats.

use serde::ser::{self, Serialize};
use std::fmt;

#[derive(Debug)]
pub(crate) enum CheckError {
    NonFinite,
    Custom,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NonFinite => "non-finite number",
            Self::Custom => "value could not be serialised",
        })
    }
}

impl std::error::Error for CheckError {}

impl ser::Error for CheckError {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Self::Custom
    }
}

/// Returns `Err(NonFinite)` when `value` contains a NaN or infinite float.
pub(crate) fn check_finite<T: Serialize + ?Sized>(value: &T) -> Result<(), CheckError> {
    value.serialize(FiniteChecker)
}

struct FiniteChecker;

type R = Result<(), CheckError>;

macro_rules! accept {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> R { Ok(()) })*
    };
}

/// Implements a compound serializer trait whose methods each check the
/// value they are given; `method(_key)` also takes a field name first.
macro_rules! compound {
    ($($trait:ident { $($method:ident $(($key:ident))?),* })*) => {
        $(impl ser::$trait for FiniteChecker {
            type Ok = ();
            type Error = CheckError;
            $(fn $method<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? value: &T) -> R {
                value.serialize(FiniteChecker)
            })*
            fn end(self) -> R { Ok(()) }
        })*
    };
}

compound! {
    SerializeSeq { serialize_element }
    SerializeTuple { serialize_element }
    SerializeTupleStruct { serialize_field }
    SerializeTupleVariant { serialize_field }
    SerializeMap { serialize_key, serialize_value }
    SerializeStruct { serialize_field(_key) }
    SerializeStructVariant { serialize_field(_key) }
}

impl ser::Serializer for FiniteChecker {
    type Ok = ();
    type Error = CheckError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    accept! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_i128(i128); serialize_u8(u8); serialize_u16(u16);
        serialize_u32(u32); serialize_u64(u64); serialize_u128(u128); serialize_char(char);
        serialize_str(&str); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str); serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_f32(self, v: f32) -> R {
        if v.is_finite() {
            Ok(())
        } else {
            Err(CheckError::NonFinite)
        }
    }
    fn serialize_f64(self, v: f64) -> R {
        if v.is_finite() {
            Ok(())
        } else {
            Err(CheckError::NonFinite)
        }
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> R {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, CheckError> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn finds_nested_nan() {
        let mut m = BTreeMap::new();
        m.insert("a", vec![1.0, f64::NAN]);
        assert!(matches!(check_finite(&m), Err(CheckError::NonFinite)));
        assert!(check_finite(&(1, "x", Some(2.5f32))).is_ok());
        assert!(matches!(check_finite(&f32::INFINITY), Err(CheckError::NonFinite)));
    }
}
