//! A JSON document as a tree whose numbers keep their exact text.
//!
//! Venue frame decoders ([`crate::kraken_frame`] and the others) read a frame once with the
//! exact-number reader ([`crate::json_exact`]) into this tree, borrowing from the frame's
//! bytes what they can, and then check it field by field ([`crate::frame_field`]).

use std::borrow::Cow;

use crate::error::CoreError;
use crate::json_exact::{parse, Sink};

/// A parsed JSON value with numbers as their exact text, borrowing from the document what it
/// can (numbers, strings without escapes).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// An object's member (the last one of that name, as a dict would keep it).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Obj(items) => items.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a number or a string (the exact reader's Python form of both).
    pub fn text(&self) -> Option<&str> {
        match self {
            Json::Num(s) => Some(s),
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value, short, for an error message.
    pub fn describe(&self) -> String {
        match self {
            Json::Null => "None".to_owned(),
            Json::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            Json::Num(s) => format!("{:?}", clip(s, 40)),
            Json::Str(s) => format!("{:?}", clip(s, 40)),
            Json::Arr(_) => "a list".to_owned(),
            Json::Obj(_) => "an object".to_owned(),
        }
    }
}

pub fn clip(s: &str, chars: usize) -> &str {
    match s.char_indices().nth(chars) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

struct TreeSink;

impl<'a> Sink<'a> for TreeSink {
    type Value = Json<'a>;
    type Error = CoreError;
    fn null(&mut self) -> Result<Json<'a>, CoreError> {
        Ok(Json::Null)
    }
    fn boolean(&mut self, v: bool) -> Result<Json<'a>, CoreError> {
        Ok(Json::Bool(v))
    }
    fn number(&mut self, text: &'a str) -> Result<Json<'a>, CoreError> {
        Ok(Json::Num(text))
    }
    fn string(&mut self, s: &str) -> Result<Json<'a>, CoreError> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }
    fn input_string(&mut self, s: &'a str) -> Result<Json<'a>, CoreError> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }
    fn array(&mut self, items: Vec<Json<'a>>) -> Result<Json<'a>, CoreError> {
        Ok(Json::Arr(items))
    }
    fn object(&mut self, items: Vec<(Json<'a>, Json<'a>)>) -> Result<Json<'a>, CoreError> {
        items
            .into_iter()
            .map(|(k, v)| match k {
                Json::Str(k) => Ok((k, v)),
                _ => Err(CoreError::Value("object key is not a string".to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Obj)
    }
}

/// Parses one frame into a [`Json`] tree ("not JSON: ..." when it is not).
pub fn parse_tree(input: &[u8]) -> Result<Json<'_>, CoreError> {
    parse(input, &mut TreeSink).map_err(|e| CoreError::Value(format!("not JSON: {e}")))
}
