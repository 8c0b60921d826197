//! A JSON reader that keeps every number as its exact text.
//!
//! Kraken v2 writes prices and quantities as JSON numbers, and its checksum is over their
//! exact decimal digits: a parser that turns numbers into `f64` loses them (16+ significant
//! digits, `1e-05` forms). This reader validates the whole document against RFC 8259 and hands
//! each number to the [`Sink`] as the text it was written with. What the values become is the
//! sink's business (the Python layer builds Python objects; tests build a plain tree).

use crate::error::CoreError;

/// Builds values while the reader walks the document `'a`.
pub trait Sink<'a> {
    type Value;
    type Error: From<CoreError>;
    fn null(&mut self) -> Result<Self::Value, Self::Error>;
    fn boolean(&mut self, v: bool) -> Result<Self::Value, Self::Error>;
    /// A number, as the exact text of the document (already validated as a JSON number).
    fn number(&mut self, text: &'a str) -> Result<Self::Value, Self::Error>;
    /// A string (or object key) that had escapes, unescaped into a scratch buffer.
    fn string(&mut self, s: &str) -> Result<Self::Value, Self::Error>;
    /// A string (or object key) without escapes: its text in the document, to borrow.
    fn input_string(&mut self, s: &'a str) -> Result<Self::Value, Self::Error> {
        self.string(s)
    }
    fn array(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, Self::Error>;
    fn object(
        &mut self,
        items: Vec<(Self::Value, Self::Value)>,
    ) -> Result<Self::Value, Self::Error>;
}

/// Nesting deeper than this is refused instead of risking the stack.
pub const MAX_DEPTH: usize = 128;

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse<'a, S: Sink<'a>>(input: &'a [u8], sink: &mut S) -> Result<S::Value, S::Error> {
    // UTF-8 is checked once for the whole document (a byte outside a string that is not
    // ASCII is a syntax error anyway): strings and numbers are then slices of it.
    let text = std::str::from_utf8(input).map_err(|e| {
        CoreError::Value(format!(
            "invalid JSON at byte {}: not valid UTF-8",
            e.valid_up_to()
        ))
    })?;
    let mut r = Reader {
        b: input,
        s: text,
        i: 0,
        scratch: String::new(),
    };
    r.ws();
    let v = r.value(sink, 0)?;
    r.ws();
    if r.i != r.b.len() {
        return Err(r.err("trailing characters after the JSON value").into());
    }
    Ok(v)
}

struct Reader<'a> {
    b: &'a [u8],
    /// `b` as text.
    s: &'a str,
    i: usize,
    scratch: String,
}

impl<'a> Reader<'a> {
    fn err(&self, what: &str) -> CoreError {
        CoreError::Value(format!("invalid JSON at byte {}: {what}", self.i))
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn value<S: Sink<'a>>(&mut self, sink: &mut S, depth: usize) -> Result<S::Value, S::Error> {
        match self.b.get(self.i) {
            Some(b'{') => self.object(sink, depth + 1),
            Some(b'[') => self.array(sink, depth + 1),
            Some(b'"') => self.string_value(sink),
            Some(b't') => self.literal(b"true").and_then(|_| sink.boolean(true)),
            Some(b'f') => self.literal(b"false").and_then(|_| sink.boolean(false)),
            Some(b'n') => self.literal(b"null").and_then(|_| sink.null()),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                self.number()?;
                sink.number(self.slice(start)?)
            }
            Some(_) => Err(self.err("expected a value").into()),
            None => Err(self.err("unexpected end of input").into()),
        }
    }

    fn literal<E: From<CoreError>>(&mut self, word: &[u8]) -> Result<(), E> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected true, false or null").into())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// RFC 8259: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), CoreError> {
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("a number needs digits")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("a fraction needs digits"));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("an exponent needs digits"));
            }
        }
        Ok(())
    }

    /// The text from `start` to the current byte. Both ends are at ASCII bytes (or the end)
    /// wherever this is called, so it is always there; `get` keeps that from being a panic.
    fn slice(&self, start: usize) -> Result<&'a str, CoreError> {
        let s: &'a str = self.s;
        s.get(start..self.i)
            .ok_or_else(|| self.err("not at a character boundary"))
    }

    fn hex4(&mut self) -> Result<u32, CoreError> {
        let s: &'a str = self.s;
        let h = s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    /// Reads a string and hands it to the sink, borrowed when it has no escapes.
    fn string_value<S: Sink<'a>>(&mut self, sink: &mut S) -> Result<S::Value, S::Error> {
        match self.string()? {
            Some(s) => sink.input_string(s),
            None => {
                let s = std::mem::take(&mut self.scratch);
                let v = sink.string(&s);
                self.scratch = s;
                v
            }
        }
    }

    /// Reads a string: `Some(text)` of the document when it has no escapes, else `None`
    /// with the unescaped text in `self.scratch`.
    fn string(&mut self) -> Result<Option<&'a str>, CoreError> {
        self.i += 1; // opening quote
        self.scratch.clear();
        let mut first = true;
        loop {
            let start = self.i;
            // The common case: a run of plain characters copied in one go.
            let rest = &self.b[start..];
            self.i += rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(rest.len());
            let run = self.slice(start)?;
            if first && self.b.get(self.i) == Some(&b'"') {
                self.i += 1;
                return Ok(Some(run)); // the common case: nothing to unescape, nothing to copy
            }
            first = false;
            self.scratch.push_str(run);
            match self.b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(None);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = *self
                        .b
                        .get(self.i)
                        .ok_or_else(|| self.err("truncated escape"))?;
                    self.i += 1;
                    let ch = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                // A surrogate pair written as two escapes.
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(self.err("lone high surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("bad low surrogate"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.err("lone low surrogate"));
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.err("bad \\u escape"))?
                        }
                        _ => return Err(self.err("unknown escape")),
                    };
                    self.scratch.push(ch);
                }
                Some(_) => return Err(self.err("control character in string")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    fn array<S: Sink<'a>>(&mut self, sink: &mut S, depth: usize) -> Result<S::Value, S::Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply").into());
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return sink.array(items);
        }
        loop {
            self.ws();
            items.push(self.value(sink, depth)?);
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return sink.array(items);
                }
                _ => return Err(self.err("expected ',' or ']'").into()),
            }
        }
    }

    fn object<S: Sink<'a>>(&mut self, sink: &mut S, depth: usize) -> Result<S::Value, S::Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply").into());
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return sink.object(items);
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a string key").into());
            }
            let key = self.string_value(sink)?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(self.err("expected ':'").into());
            }
            self.i += 1;
            self.ws();
            let value = self.value(sink, depth)?;
            items.push((key, value));
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return sink.object(items);
                }
                _ => return Err(self.err("expected ',' or '}'").into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum V {
        Null,
        Bool(bool),
        Num(String),
        Str(String),
        Arr(Vec<V>),
        Obj(Vec<(V, V)>),
    }

    struct Tree;

    impl Sink<'_> for Tree {
        type Value = V;
        type Error = CoreError;
        fn null(&mut self) -> Result<V, CoreError> {
            Ok(V::Null)
        }
        fn boolean(&mut self, v: bool) -> Result<V, CoreError> {
            Ok(V::Bool(v))
        }
        fn number(&mut self, t: &str) -> Result<V, CoreError> {
            Ok(V::Num(t.to_owned()))
        }
        fn string(&mut self, s: &str) -> Result<V, CoreError> {
            Ok(V::Str(s.to_owned()))
        }
        fn array(&mut self, items: Vec<V>) -> Result<V, CoreError> {
            Ok(V::Arr(items))
        }
        fn object(&mut self, items: Vec<(V, V)>) -> Result<V, CoreError> {
            Ok(V::Obj(items))
        }
    }

    fn p(s: &str) -> Result<V, CoreError> {
        parse(s.as_bytes(), &mut Tree)
    }

    #[test]
    fn numbers_keep_their_text() {
        let v =
            p(r#"{"price":0.5660,"qty":12345678.123456789,"c":13834774380200032777,"e":1e-05}"#)
                .unwrap();
        let V::Obj(items) = v else { panic!() };
        let nums: Vec<_> = items.into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            nums,
            vec![
                V::Num("0.5660".into()),
                V::Num("12345678.123456789".into()),
                V::Num("13834774380200032777".into()),
                V::Num("1e-05".into())
            ]
        );
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(
            p(r#" ["a\"b\\c\/d\n\u00e9\ud83d\ude00", true, false, null, [], {}] "#).unwrap(),
            V::Arr(vec![
                V::Str("a\"b\\c/d\n\u{e9}\u{1F600}".into()),
                V::Bool(true),
                V::Bool(false),
                V::Null,
                V::Arr(vec![]),
                V::Obj(vec![])
            ])
        );
    }

    #[test]
    fn refuses_what_json_does_not_allow() {
        for bad in [
            "",
            "NaN",
            "Infinity",
            "-Infinity",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "tru",
            "[1]x",
            "\"a\u{1}b\"",
        ] {
            assert!(p(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse(b"\"\xff\"", &mut Tree).is_err(), "invalid UTF-8");
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(p(&deep).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(p(&ok).is_ok());
    }
}
